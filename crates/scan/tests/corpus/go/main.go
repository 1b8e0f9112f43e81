package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"

	amqp "github.com/rabbitmq/amqp091-go" // expect: lock-in
)

func bad(name string) {
	exec.Command("sh", "-c", "grep "+name+" /etc/passwd").Run() // expect: injection os-file
	exec.Command("/bin/bash", "-c", "uptime").Run()             // expect: shell
	exec.Command("bash", "-c", fmt.Sprintf("id %s", name)).Run() // expect: injection
	os.ReadFile("/etc/shadow")                                   // expect: os-file
	exec.Command("rpm", "-qa").Run()                             // expect: distro
	_ = amqp.Dial
}

func good(name string) {
	exec.Command("id", name).Run()
	fmt.Println("no longer parsing /etc/passwd")
	user.Lookup(name)
	_ = "127.0.0.1:5672"
	_ = "192.168.10.2:5672" // expect: hard-coded-address
}

func hosts() []string {
	return []string{
		"payments.acme.com:443", // expect: hard-coded-address
		"https://queue.acme.io/v1", // expect: hard-coded-address
		"github.com/acme/payments",
		"config.yaml",
		"main.go",
		"rbac.authorization.k8s.io",
		"db.example.com:5432",
		"v1.2.3",
		"ops@acme.com",
	}
}
