using System.Diagnostics;
using System.IO;
using RabbitMQ.Client; // expect: lock-in

class App {
    void Bad(string user) {
        Process.Start("/bin/bash", $"-c \"grep {user} /etc/passwd\""); // expect: injection os-file
        Process.Start("/bin/sh", "-c uptime"); // expect: shell
        File.ReadAllLines("/etc/passwd"); // expect: os-file
        var db = "10.5.5.5"; // expect: hard-coded-address
    }

    void Good(string user) {
        Process.Start("id", user);
        Console.WriteLine("not reading /etc/passwd");
        var local = "127.0.0.1";
    }
}
