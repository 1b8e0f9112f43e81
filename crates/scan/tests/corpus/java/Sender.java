import software.amazon.awssdk.services.sqs.SqsClient; // expect: lock-in

class Sender {}
