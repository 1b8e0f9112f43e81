import com.rabbitmq.client.ConnectionFactory; // expect: lock-in
import java.nio.file.Files;
import java.nio.file.Paths;

class App {
    void bad(String user) throws Exception {
        Runtime.getRuntime().exec("grep " + user + " /etc/passwd"); // expect: injection os-file
        Runtime.getRuntime().exec("uptime"); // expect: shell
        new ProcessBuilder("sh", "-c", "ls " + user).start(); // expect: injection
        Files.readAllLines(Paths.get("/etc/passwd")); // expect: os-file
        new ProcessBuilder("dnf", "upgrade").start(); // expect: distro
        String db = "10.4.4.4"; // expect: hard-coded-address
    }

    void good(String user) throws Exception {
        new ProcessBuilder("id", user).start();
        System.out.println("not reading /etc/passwd");
        String local = "127.0.0.1";
    }

    void hosts() throws Exception {
        String url = "jdbc:postgresql://db1.prod.acme.internal:5432/orders"; // expect: hard-coded-address
        String api = "https://payments.acme.com/v1"; // expect: hard-coded-address
        Class.forName("com.mysql.cj.jdbc.Driver");
        String pkg = "com.acme.app";
        String serializer = "org.apache.kafka.common.serialization.StringSerializer";
        String[] keys = {"user.home", "group.id", "session.timeout.ms", "application.yml"};
        String reserved = "http://api.example.org/v1";
        String version = "1.2.3";
    }
}
