require 'bunny' # expect: lock-in
require 'etc'

def bad(user)
  system("grep #{user} /etc/passwd") # expect: injection os-file
  `uptime` # expect: shell
  %x(id #{user}) # expect: injection
  File.read('/etc/shadow') # expect: os-file
  system('apt-get install -y nginx') # expect: shell distro
  db = '10.3.3.3' # expect: hard-coded-address
end

def good(user)
  system('id', user)
  puts 'not reading /etc/passwd'
  Etc.getpwnam(user)
end

def hosts
  require 'socket.io'
  db = 'db1.prod.acme.internal' # expect: hard-coded-address
  api = "https://payments.acme.com/v1" # expect: hard-coded-address
  files = ['config.yml', 'Gemfile.lock', 'app.rb']
  reserved = ['https://api.example.com/', 'db.test']
  other = ['1.2.3', 'ops@acme.com']
  [db, api, files, reserved, other]
end
