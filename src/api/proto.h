/* api/proto — what this server reads of protobuf bodies (built-in kinds). */
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
int api_proto_review_spec(const void *body, size_t len, json_t **spec);

/* A Namespace's protobuf body as JSON: apiVersion, kind and the metadata
 * a client sets (name, generateName, labels, annotations, finalizers).
 * -1 when the body does not parse. */
int api_proto_namespace(const void *body, size_t len, json_t **out);

#endif
