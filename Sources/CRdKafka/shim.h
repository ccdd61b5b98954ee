#ifndef CRDKAFKA_SHIM_H
#define CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* Variadic rd_kafka_producev is not imported into Swift: these fixed-arity
   wrappers stand in for it. The payload is copied (RD_KAFKA_MSG_F_COPY) so
   Swift buffers need not outlive the call. On success librdkafka owns hdrs. */
static inline rd_kafka_resp_err_t
tthc_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition,
             const void *key, size_t key_len,
             const void *value, size_t value_len,
             rd_kafka_headers_t *hdrs, void *opaque) {
    if (hdrs)
        return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt),
                                 RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY(key, key_len),
                                 RD_KAFKA_V_VALUE((void *)value, value_len),
                                 RD_KAFKA_V_HEADERS(hdrs),
                                 RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt),
                             RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY(key, key_len),
                             RD_KAFKA_V_VALUE((void *)value, value_len),
                             RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}

/* rd_kafka_message_t fields read from Swift without touching the struct layout. */
static inline int64_t tthc_message_timestamp(const rd_kafka_message_t *m) {
    rd_kafka_timestamp_type_t type;
    return rd_kafka_message_timestamp(m, &type);
}
#endif
