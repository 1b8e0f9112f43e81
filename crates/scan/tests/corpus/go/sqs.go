package main

import "github.com/aws/aws-sdk-go-v2/service/sqs" // expect: lock-in

var _ = sqs.New
