<?php
use Aws\Sqs\SqsClient; // expect: lock-in
