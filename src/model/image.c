/* model/image — allocation and release of the owned tree. */
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

char *model_strdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

int model_set_str(char **field, const char *value)
{
	char *copy = NULL;
	if (value) {
		copy = model_strdup(value);
		if (!copy)
			return VIM_ENOMEM;
	}
	free(*field);
	*field = copy;
	return 0;
}

struct model_image *model_image_new(enum model_kind kind)
{
	struct model_image *img = calloc(1, sizeof(*img));
	if (img)
		img->kind = kind;
	return img;
}

static void strmap_free(struct model_strmap *m)
{
	for (size_t i = 0; i < m->len; i++) {
		free(m->items[i].key);
		free(m->items[i].value);
	}
	free(m->items);
}

static void strlist_free(struct model_strlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->items[i]);
	free(l->items);
}

static void checksum_free(struct model_checksum *c)
{
	free(c->md5);
	free(c->sha1);
	free(c->sha256);
	free(c->sha512);
	free(c->streebog256);
	free(c->streebog512);
}

static void meta_free(struct model_meta *m)
{
	free(m->name);
	free(m->namespace);
	free(m->generate_name);
	free(m->uid);
	free(m->resource_version);
	strmap_free(&m->labels);
	strmap_free(&m->annotations);
	strlist_free(&m->finalizers);
	json_decref(m->extra);
}

static void data_source_free(struct model_data_source *ds)
{
	free(ds->type);
	if (ds->http) {
		free(ds->http->url);
		free(ds->http->ca_bundle);
		checksum_free(&ds->http->checksum);
		free(ds->http);
	}
	if (ds->container_image) {
		free(ds->container_image->image);
		free(ds->container_image->pull_secret_name);
		free(ds->container_image->pull_secret_namespace);
		free(ds->container_image->ca_bundle);
		free(ds->container_image);
	}
	if (ds->object_ref) {
		free(ds->object_ref->kind);
		free(ds->object_ref->name);
		free(ds->object_ref->namespace);
		free(ds->object_ref);
	}
	if (ds->upload) {
		checksum_free(&ds->upload->checksum);
		free(ds->upload);
	}
}

static void condition_fields_free(struct model_condition *c)
{
	free(c->type);
	free(c->status);
	free(c->reason);
	free(c->message);
}

static void status_free(struct model_status *st)
{
	for (size_t i = 0; i < st->n_conditions; i++)
		condition_fields_free(&st->conditions[i]);
	free(st->conditions);
	char **strs[] = {&st->progress,
	                 &st->speed_avg,
	                 &st->speed_avg_bytes,
	                 &st->speed_current,
	                 &st->speed_current_bytes,
	                 &st->size_stored,
	                 &st->size_stored_bytes,
	                 &st->size_unpacked,
	                 &st->size_unpacked_bytes,
	                 &st->format,
	                 &st->target_registry_url,
	                 &st->target_pvc_name,
	                 &st->upload_url_external,
	                 &st->upload_url_in_cluster,
	                 &st->upload_command,
	                 &st->source_uid,
	                 &st->storage_class_name};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(*strs[i]);
	strlist_free(&st->used_in_namespaces);
}

void model_image_free(struct model_image *img)
{
	if (!img)
		return;
	meta_free(&img->meta);
	free(img->spec.storage);
	free(img->spec.storage_class_name);
	data_source_free(&img->spec.data_source);
	status_free(&img->status);
	free(img);
}
