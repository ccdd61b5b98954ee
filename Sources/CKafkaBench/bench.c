#include "ckafkabench.h"
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t delivered = 0;
static int64_t failed = 0;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk; (void)opaque;
    if (m->err) failed++; else delivered++;
}

double ckb_produce(const char *brokers, const char *topic, int64_t count, int32_t size, int32_t idempotent) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.idempotence", idempotent ? "true" : "false", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "acks", "all", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) return -1;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    char *payload = malloc(size);
    memset(payload, 'x', size);
    char key[32];
    delivered = failed = 0;
    double start = now_seconds();
    for (int64_t i = 0; i < count; i++) {
        int klen = snprintf(key, sizeof key, "k%lld", (long long)(i % 1000));
        while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, payload, size, key, klen, NULL) == -1) {
            rd_kafka_poll(rk, 1);
        }
        if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    double elapsed = now_seconds() - start;
    free(payload);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return (delivered == count) ? elapsed : -1;
}

/* What an application reads of each message: topic, partition, offset, key,
   value, timestamp and every header (what a Swift KafkaMessage carries),
   folded into a checksum so none of it is skipped. */
static uint64_t touch(const rd_kafka_message_t *m) {
    uint64_t sum = (uint64_t)m->partition + (uint64_t)m->offset + m->len + m->key_len;
    rd_kafka_timestamp_type_t tstype;
    sum += (uint64_t)rd_kafka_message_timestamp(m, &tstype);
    const char *topic = rd_kafka_topic_name(m->rkt);
    sum += (uint8_t)topic[0];
    if (m->len) sum += ((const uint8_t *)m->payload)[0] + ((const uint8_t *)m->payload)[m->len - 1];
    if (m->key_len) sum += ((const uint8_t *)m->key)[0];
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name; const void *value; size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
            sum += (uint8_t)name[0] + size;
    }
    return sum;
}

double ckb_now(void) { return now_seconds(); }

/* The same properties the Swift KafkaConsumer sets (see KafkaConsumerConfiguration).
   The clock is read on an empty poll and every 256 messages only, so that
   timing costs the C side next to nothing; a gap over 50 ms counts as a stall. */
double ckb_consume(const char *brokers, const char *topic, const char *group, int64_t count, ckb_consume_stats *stats) {
    static const char *props[][2] = {
        {"client.id", "tthc-identity-verifier"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"session.timeout.ms", "10000"},
        {"partition.assignment.strategy", "range"},
        {"auto.offset.reset", "earliest"},
    };
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr);
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) return -1;
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    memset(stats, 0, sizeof *stats);
    int64_t got = 0;
    double start = 0, last = 0, deadline = now_seconds() + 120;
    uint64_t sum = 0;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        int check = !m;
        if (m) {
            if (!m->err) {
                if (got == 0) start = last = now_seconds();
                sum += touch(m);
                got++;
                check = (got & 255) == 0 || got == count;
            }
            rd_kafka_message_destroy(m);
        }
        if (check) {
            double now = now_seconds();
            if (got > 0 && now - last > 0.05) { stats->stalls++; stats->stalled_seconds += now - last; }
            last = now;
            if (got >= count || now > deadline) break;
        }
    }
    double elapsed = last - start;
    stats->checksum = sum;
    stats->start = start;
    stats->end = last;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return (got == count) ? elapsed : -1;
}
