#ifndef CKAFKABENCH_H
#define CKAFKABENCH_H
#include <stdint.h>

/* librdkafka's C client driven as a plain C program would, as the baseline
   that the Swift layer is compared with. Return seconds taken, or -1. */
double ckb_produce(const char *brokers, const char *topic, int64_t count, int32_t size, int32_t idempotent);
/* What a consume run saw besides its duration. */
typedef struct {
    uint64_t checksum;       /* of every field read, to compare with the Swift side */
    int32_t stalls;          /* gaps of more than 50 ms without a message */
    double stalled_seconds;  /* their total */
    double start, end;       /* ckb_now() at the first and the last message */
} ckb_consume_stats;

/* CLOCK_MONOTONIC in seconds (what `perf record -k CLOCK_MONOTONIC` stamps). */
double ckb_now(void);
/* Consumes with the Swift consumer's settings, reading every field of each message. */
double ckb_consume(const char *brokers, const char *topic, const char *group, int64_t count, ckb_consume_stats *stats);
#endif
