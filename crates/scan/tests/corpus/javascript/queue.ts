import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs"; // expect: lock-in

export const client = new SQSClient({ endpoint: "http://[2001:db8::5]:4566" });
