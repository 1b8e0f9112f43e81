<?php
use PhpAmqpLib\Connection\AMQPStreamConnection; // expect: lock-in

function bad($user) {
    shell_exec("grep $user /etc/passwd"); // expect: injection os-file
    system('uptime'); // expect: shell
    $out = `ls -l`; // expect: shell
    $data = file_get_contents('/etc/group'); // expect: os-file
    exec('yum -y update'); // expect: shell distro
    $db = '10.7.7.7'; // expect: hard-coded-address
}

function good($user) {
    error_log('not reading /etc/passwd');
    return posix_getpwnam($user);
}

function hosts() {
    require_once 'lib.inc';
    $api = 'https://payments.acme.com/v1'; // expect: hard-coded-address
    $mq = "mq.acme.io:5672"; // expect: hard-coded-address
    $files = ['index.php', 'composer.json', 'README.md'];
    $reserved = ['https://api.example.com/', 'db.test', 'localhost'];
    $other = ['1.2.3', 'ops@acme.com', 'Acme.Payments'];
    return [$api, $mq, $files, $reserved, $other];
}
