from messaging import send_message

send_message(b"order")
