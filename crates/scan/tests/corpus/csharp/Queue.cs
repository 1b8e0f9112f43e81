using Amazon.SQS; // expect: lock-in
