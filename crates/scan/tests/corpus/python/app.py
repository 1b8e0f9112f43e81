import os
import pwd
import subprocess
import logging

log = logging.getLogger(__name__)


def users_bad(name):
    os.system("cat /etc/passwd | grep " + name)  # expect: injection os-file
    out = subprocess.check_output(f"id {name}", shell=True)  # expect: injection
    subprocess.run("ls -l /tmp", shell=True)  # expect: shell
    with open("/etc/passwd") as f:  # expect: os-file
        return f.read(), out


def users_good(name):
    subprocess.run(["id", name])  # a constant program, no shell
    log.info("not reading /etc/passwd any more")  # a log message, not a read
    return pwd.getpwnam(name)


def packages():
    subprocess.run(["yum", "install", "-y", "httpd"])  # expect: distro
    subprocess.call(["/usr/bin/python2.7", "tool.py"])  # expect: distro
    os.system("service httpd restart")  # expect: shell distro


def addresses():
    primary = "10.20.30.40"  # expect: hard-coded-address
    local = "127.0.0.1"
    docs = "192.0.2.15"
    legacy = "http://172.16.5.4:8080/api"  # expect: hard-coded-address
    ignored = "10.9.9.9"  # fearless: ignore[hard-coded-address] the lab's fixed gateway
    return primary, local, docs, legacy, ignored


def release():
    with open("/etc/os-release") as f:  # expect: os-file
        return f.read()


def hosts():
    """Connects to 10.1.1.1 in the lab (a docstring documents, it configures nothing)."""
    import importlib

    db = "db1.prod.acme.internal"  # expect: hard-coded-address
    api = "https://payments.acme.com/v1"  # expect: hard-coded-address
    broker = "amqp://app:secret@rabbit.corp.local:5672/%2f"  # expect: hard-coded-address
    files = ["config.yaml", "setup.py", "README.md", "archive.tar.gz"]
    module = importlib.import_module("acme.payments.io")
    settings = "mysite.settings.local"
    names = ["django.contrib.auth", "torch.gt", "scipy.io", "group.id", "user.name"]
    reserved = ["https://api.example.com/v1", "db.test", "svc.localhost", "localhost"]
    other = ["1.2.3", "v2.0.1", "ops@acme.com", "github.com/acme/payments"]
    return db, api, broker, files, module, settings, names, reserved, other
