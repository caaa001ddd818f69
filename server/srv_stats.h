/* srv_stats.h -- the network layer's counters, a plain struct of its own so
 * that metrics.h can render them without including srv.h (srv.c counts,
 * main.c copies them into a metrics_snapshot, metrics.c renders). */
#ifndef SRV_STATS_H
#define SRV_STATS_H

#include <stdint.h>

#include "proto.h"

typedef struct srv_stats {
    uint64_t conns_now, conns_total, conns_refused;
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
    uint64_t too_big, rate_limited, bad_input, slow_closed, ping_timeouts;
    /* handshakes refused: per-address limit, Origin, a path other than /ws */
    uint64_t refused_ip, refused_origin, refused_path;
    uint64_t ip_rate_limited, watch_capped, waiting_capped;
    uint64_t protocol_errors;   /* closed with 1002 (bad close frame) */
    uint64_t bad_utf8;          /* closed with 1007 */
    uint64_t open_failed;       /* out of memory for a connection (closed 1011) */
    uint64_t errors[PROTO_ERR_COUNT];   /* errors this layer answered (parse, rate) */
} srv_stats;

#endif
