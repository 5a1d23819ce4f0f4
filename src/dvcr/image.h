/*
 * dvcr/image — a VM image as DVCR stores it (dvcr.md): one uncompressed
 * tar layer holding the directory "disk" and the file "disk/<name>" (uid
 * and gid 64535, modes 0755 / 0644), a config with the three
 * source-image-* labels, a Docker schema 2 manifest.
 *
 * The writer streams: tar header, the caller's bytes, padding, end marker
 * — sha256 computed on the fly, the blob sent in one streamed PATCH by a
 * thread of the writer fed through a fixed 4 MiB ring (so the source and
 * the registry move at once), nothing held whole.  The tar header needs
 * the file size first, so the caller must know it (an HTTP
 * Content-Length, an upload's length, or a spill file's size); a stream
 * that delivers a different number of bytes fails the image, as
 * upstream's "source image size mismatch".
 */
#ifndef VIM_DVCR_IMAGE_H
#define VIM_DVCR_IMAGE_H

#include "dvcr/dvcr.h"

#include <stdint.h>

#define DVCR_DISK_UID 64535
#define DVCR_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define DVCR_MT_LAYER_TAR "application/vnd.docker.image.rootfs.diff.tar"
#define DVCR_MT_LAYER_TGZ "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* Fills one 512-byte ustar header (typeflag '0' file, '5' directory, 'x'
 * PAX).  Sizes of 8 GiB and more do not fit 11 octal digits: the caller
 * writes a PAX record first (dvcr_tar_pax). */
void dvcr_tar_header(unsigned char out[512], const char *name, unsigned mode, uint64_t size,
                     char typeflag);
/* A PAX extended header block pair for size (and path when name is too
 * long for ustar): writes up to 1024 bytes into out, returns their count. */
size_t dvcr_tar_pax(unsigned char out[1024], const char *name, uint64_t size);

struct dvcr_image_labels {
	uint64_t stored_size;  /* bytes of the disk file */
	uint64_t virtual_size; /* the disk's virtual size */
	const char *format;    /* "qcow2", "raw", "iso", ... */
};

struct dvcr_image_writer; /* owned by the caller until finish/abort */

/* Starts the layer upload to repo and writes the headers for a file named
 * file_name (a base name; sanitised) of exactly size bytes. */
int dvcr_image_begin(struct dvcr_image_writer **out, struct dvcr_client *c, const char *repo,
                     const char *file_name, uint64_t size, struct vim_err *err);
int dvcr_image_write(struct dvcr_image_writer *w, const void *data, size_t len,
                     struct vim_err *err);
/* Pads, ends the archive, completes the layer, pushes config + manifest
 * under tag.  Frees w (also on failure).  digest_out (DVCR_DIGEST_MAX, may
 * be NULL) gets the manifest digest. */
int dvcr_image_finish(struct dvcr_image_writer *w, const char *tag,
                      const struct dvcr_image_labels *labels, char *digest_out,
                      struct vim_err *err);
/* Cancels the upload; no manifest exists.  Frees w; NULL is fine. */
void dvcr_image_abort(struct dvcr_image_writer *w);

/* Copies repo_from:tag_from to repo_to:tag_to without moving data: every
 * blob is mounted across repositories, then the same manifest is put. */
int dvcr_image_copy(struct dvcr_client *c, const char *repo_from, const char *tag_from,
                    const char *repo_to, const char *tag_to, struct vim_err *err);

#endif
