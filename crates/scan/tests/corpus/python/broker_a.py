import pika  # expect: lock-in

conn = pika.BlockingConnection()
