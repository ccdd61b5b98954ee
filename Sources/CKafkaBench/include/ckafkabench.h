#ifndef CKAFKABENCH_H
#define CKAFKABENCH_H
#include <stdint.h>

/* librdkafka's C client driven as a plain C program would, as the baseline
   that the Swift layer is compared with. Return seconds taken, or -1. */
double ckb_produce(const char *brokers, const char *topic, int64_t count, int32_t size, int32_t idempotent);
double ckb_consume(const char *brokers, const char *topic, const char *group, int64_t count);
#endif
