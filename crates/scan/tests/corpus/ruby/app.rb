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
