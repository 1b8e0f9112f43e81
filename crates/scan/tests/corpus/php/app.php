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
