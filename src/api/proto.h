/* api/auth_proto — the spec of a protobuf-encoded auth review. */
#ifndef VIM_API_AUTH_PROTO_H
#define VIM_API_AUTH_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* body: application/vnd.kubernetes.protobuf ("k8s\0" + runtime.Unknown) of
 * a SelfSubjectAccessReview/RulesReview/Review.  *spec gets a new object
 * with resourceAttributes / nonResourceAttributes as JSON would name them
 * (empty when the review has none).  -1 when the body does not parse. */
int api_auth_proto_spec(const void *body, size_t len, json_t **spec);

#endif
