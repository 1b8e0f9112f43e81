#!/bin/bash
set -eu
user="$1"
grep "$user" /etc/passwd # expect: os-file
eval "$CMD" # expect: injection
eval 'echo constant'
bash -c "id $user" # expect: injection
yum install -y httpd # expect: distro
sudo apt-get update # expect: distro
service nginx restart # expect: distro
echo "see /etc/passwd for the format"
curl http://10.2.3.4/health # expect: hard-coded-address
curl http://127.0.0.1/health
getent passwd "$user"
curl -fsS https://payments.acme.com/v1/health # expect: hard-coded-address
ssh deploy@web1.prod.acme.internal uptime # expect: hard-coded-address
scp app.tar.gz deploy@web2.acme.com:/srv/app/ # expect: hard-coded-address
tar xzf app.tar.gz && cp config.yaml /etc/app/
source ./lib.sh
curl https://www.example.com/
pip install requests==2.31.0
echo "mail ops@acme.com when done"
