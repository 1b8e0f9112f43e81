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

function hosts(id) {
  const io = require('socket.io');
  const api = `https://payments.acme.com/users/${id}`; // expect: hard-coded-address
  const db = 'db1.prod.acme.internal:5432'; // expect: hard-coded-address
  const svg = 'http://www.w3.org/2000/svg';
  const files = ['index.js', 'package.json', 'README.md', 'bundle.min.css'];
  const props = ['asset.info', 'window.location', 'user.id', 'timeout.ms'];
  const reserved = ['https://cdn.example.net/lib.js', 'api.test', 'web.localhost'];
  const other = ['1.2.3', 'ops@acme.com', 'github.com/acme/payments', 'Acme.Web.App'];
  return { io, api, db, svg, files, props, reserved, other };
}
