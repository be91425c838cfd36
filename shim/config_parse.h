/* config_parse.h - pure parsers for LINGER_* values. No syscalls, no globals.
 * Each returns 0 on success and stores the value, or -1 and leaves *out alone.
 */
#ifndef LINGER_CONFIG_PARSE_H
#define LINGER_CONFIG_PARSE_H

#include <stdint.h>

enum linger_mode { MODE_ON = 0, MODE_ALWAYS, MODE_OFF, MODE_OBSERVE };
enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* nginx-style duration: "5s", "500ms", "1m", "1h", "2m30s", or plain seconds
 * ("5"). Result in milliseconds, at most 24h. "0" is allowed. */
int parse_duration_ms(const char *text, uint64_t *out);

/* Byte count: plain bytes or with k/m/g suffix (1024-based), case-insensitive.
 * "0", "none" and "unlimited" mean no limit and give 0. */
int parse_size_bytes(const char *text, uint64_t *out);

/* Positive decimal count from 1 to max. */
int parse_count(const char *text, uint64_t max, uint64_t *out);

/* "on" | "always" | "off" | "observe" (case-insensitive). */
int parse_mode(const char *text, enum linger_mode *out);

/* "error" | "warn" | "info" | "debug" (case-insensitive). */
int parse_log_level(const char *text, enum log_level *out);

#endif
