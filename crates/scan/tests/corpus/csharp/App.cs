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

    void Hosts() {
        var api = "https://payments.acme.com/v1"; // expect: hard-coded-address
        var broker = @"rabbit.corp.local:5672"; // expect: hard-coded-address
        var ns = "System.IO";
        var fx = "Microsoft.AspNetCore.App";
        var settings = "appsettings.json";
        var reserved = "https://api.example.com/v1";
        var mail = "ops@acme.com";
    }
}
