require 'aws-sdk-sqs' # expect: lock-in
