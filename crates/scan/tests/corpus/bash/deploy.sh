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
