const { exec, execFile } = require('child_process');
const fs = require('fs');
const amqp = require('amqplib'); // expect: lock-in

function bad(user) {
  exec(`grep ${user} /etc/passwd`); // expect: injection os-file
  exec('ls -l'); // expect: shell
  child_process.exec('cat ' + user); // expect: injection
  const data = fs.readFileSync('/etc/group', 'utf8'); // expect: os-file
  execFile('apt-get', ['install', '-y', 'nginx']); // expect: distro
  return data;
}

function good(user) {
  execFile('id', [user]);
  console.log('we stopped reading /etc/passwd');
  const re = /x/;
  re.exec(user);
  return { host: '127.0.0.1', db: '10.0.0.8' }; // expect: hard-coded-address
}

module.exports = { bad, good };
