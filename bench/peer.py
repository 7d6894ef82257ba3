"""peer.py: the task as users write it by hand, with Debian's python3-confluent-kafka.

Usage: /usr/bin/python3 peer.py BOOTSTRAP SOURCE SINK GROUP MODEL [naive|flush]

Reads JSON records from SOURCE, scores each with the linear model MODEL (symtask's linear
model file: features, weights, intercept), adds "prediction" and writes the record to SINK
with its key. Runs until killed.

naive (the default): the loop of the client's tutorials: poll one message, transform it,
    produce, serve delivery reports with poll(0); offsets are committed by the consumer's
    auto commit (the default), which does not wait for the outputs' delivery: a crash can
    lose records, unlike a symtask task.
flush: at least once, like a symtask task: batches of up to 500 records (20 ms wait, a
    task's defaults); each batch's outputs are flushed (every delivery acknowledged)
    before the batch's offsets are committed.
"""
import json
import sys

from confluent_kafka import Consumer, KafkaException, Producer


def main():
    bootstrap, source, sink, group, model_path = sys.argv[1:6]
    mode = sys.argv[6] if len(sys.argv) > 6 else "naive"
    if mode not in ("naive", "flush"):
        sys.exit("peer.py: mode %s: naive or flush" % mode)
    with open(model_path) as f:
        model = json.load(f)
    terms = list(zip(model["features"], model["weights"]))
    intercept = model["intercept"]

    failed = []

    def on_delivery(err, msg):
        if err is not None:
            failed.append(err)

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": mode == "naive",
        # the embedded cluster answers a fetch that finds no data only after
        # fetch.wait.max.ms, even when data arrives meanwhile (a real broker answers at
        # once): keep that wait short, as for every consumer of the benchmark
        "fetch.wait.max.ms": 10,
    })
    producer = Producer({"bootstrap.servers": bootstrap, "on_delivery": on_delivery})
    consumer.subscribe([source])

    def transform(msg):
        record = json.loads(msg.value())
        z = intercept
        for name, weight in terms:
            z += weight * record[name]
        record["prediction"] = z
        value = json.dumps(record, separators=(",", ":"))
        while True:
            try:
                producer.produce(sink, value, key=msg.key())
                return
            except BufferError:  # the producer's queue is full: let it drain
                producer.poll(0.01)

    if mode == "naive":
        while True:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error() is not None:
                continue
            transform(msg)
            producer.poll(0)
            if failed:
                raise KafkaException(failed[0])

    while True:
        msgs = consumer.consume(num_messages=500, timeout=0.02)
        if not msgs:
            continue
        for msg in msgs:
            if msg.error() is None:
                transform(msg)
        producer.flush()
        if failed:
            raise KafkaException(failed[0])
        consumer.commit(asynchronous=True)


if __name__ == "__main__":
    main()
