# an address in a test is a fixture, not configuration
SERVER = "10.1.1.1"
API = "https://payments.acme.com/v1"
