"""Subscribe to AIOps NextGen anomalies: confluent-kafka + the project's codec.

    python docs/examples/subscribe.py --bootstrap 127.0.0.1:19092 --topic aiops.anomalies
"""

import argparse
import json

from confluent_kafka import Consumer

from schemas import Codec, CodecError, topic_by_name

parser = argparse.ArgumentParser()
parser.add_argument("--bootstrap", default="127.0.0.1:19092")
parser.add_argument("--topic", default="aiops.anomalies")
parser.add_argument("--group", default="my-tool")
parser.add_argument("--max-messages", type=int, default=0, help="stop after N (0 = run forever)")
args = parser.parse_args()

codec = Codec(topic_by_name(args.topic).value_schema)  # schema comes from the catalogue
consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                     "auto.offset.reset": "earliest"})
consumer.subscribe([args.topic])
seen = 0
try:
    while not args.max_messages or seen < args.max_messages:
        msg = consumer.poll(1.0)
        if msg is None or msg.error():
            continue
        try:
            record = codec.decode(msg.value())
        except CodecError as exc:  # corrupt or unknown schema: typed, never a crash
            print(json.dumps({"offset": msg.offset(), "error": str(exc)}))
            continue
        print(json.dumps(record, default=str))
        seen += 1
finally:
    consumer.close()
