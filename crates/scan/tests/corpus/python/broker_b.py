from kombu import Connection  # expect: lock-in

c = Connection()
