import pika


def send_message(body):
    pika.BlockingConnection().channel().basic_publish("", "q", body)
