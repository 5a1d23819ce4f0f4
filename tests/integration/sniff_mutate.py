#!/usr/bin/env python3
"""Mutated disk-image headers for sniff_qemu.sh and the fuzz corpus.

usage: sniff_mutate.py BASEDIR OUTDIR [--corpus]
BASEDIR holds images `qemu-img create` made (q.qcow2, q2.qcow2, qb.qcow2,
qd.qcow2, v.vmdk, vs.vmdk, vf.vmdk, p.vpc, i.vdi, x.vhdx); OUTDIR gets one
file per mutation and a MANIFEST: name, expectation, regex of our error.
expectation "same": vimage's verdict must agree with qemu-img info's;
"stricter": qemu-img accepts it, vimage refuses on purpose (the reason is
the comment next to it).  --corpus (how tests/fuzz/corpus/sniff/ was
made): no MANIFEST, and the vhdx cases compacted to 324 KiB (metadata region
moved from 2 MiB to 256 KiB), so their verdicts are not qemu's.
"""
import os
import struct
import sys

base, out = sys.argv[1], sys.argv[2]
corpus = sys.argv[3:] == ["--corpus"]
os.makedirs(out, exist_ok=True)
manifest = []


def rd(name):
    with open(os.path.join(base, name), "rb") as f:
        return bytearray(f.read())


def case(name, data, expect, regex):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes(data))
    manifest.append((name, expect, regex))


def put(b, off, fmt, v):
    struct.pack_into(fmt, b, off, v)
    return b


def q(off, fmt, v, src="q.qcow2"):
    return put(rd(src), off, fmt, v)


# ---- qcow2 (base: v3, 4 KiB clusters, 1 MiB) --------------------------------
case("qcow2-ok", rd("q.qcow2"), "same", "")
case("qcow2-v2-ok", rd("q2.qcow2"), "same", "")
case("qcow2-version-1", q(4, ">I", 1), "same", "version 1")
case("qcow2-version-4", q(4, ">I", 4), "same", "version 4")
case("qcow2-cluster-bits-63", q(20, ">I", 63), "same", "cluster_bits 63 is out of range 9..21")
case("qcow2-cluster-bits-8", q(20, ">I", 8), "same", "cluster_bits 8")
case("qcow2-cluster-bits-22", q(20, ">I", 22), "same", "cluster_bits 22")
case("qcow2-cluster-bits-max", q(20, ">I", 0xFFFFFFFF), "same", "cluster_bits 4294967295")
case("qcow2-backing-offset-2p62", q(8, ">Q", 1 << 62), "same", "backing_file_offset")
case("qcow2-backing-offset-max", q(8, ">Q", 2**64 - 1), "same", "backing_file_offset")
b = q(8, ">Q", 512)
put(b, 16, ">I", 2000)
case("qcow2-backing-size-2000", b, "same", "backing_file_size 2000")
# a backing file / an external data file: qemu-img info reads neither, the
# VM would (CVE-2024-32498's class)
case("qcow2-backing-etc-passwd", rd("qb.qcow2"), "stricter", 'backing file \\("/etc/passwd"\\)')
b = rd("q.qcow2")
name = b"../../../etc/shadow"
b[0x200:0x200 + len(name)] = name
put(b, 8, ">Q", 0x200)
put(b, 16, ">I", len(name))
case("qcow2-backing-relative", b, "stricter", 'backing file \\("\\.\\./\\.\\./\\.\\./etc/shadow"\\)')
case("qcow2-data-file", rd("qd.qcow2"), "stricter", "external data file \\(\"/")
# the data-file bit without a name, a name without the bit: qemu-img info
# opens neither; a reader given a data-file option, or one that honours
# the extension, would read another file
case("qcow2-data-file-bit-only", q(72, ">Q", 1 << 2), "stricter", "external data file")
case("qcow2-incompat-unknown", q(72, ">Q", 1 << 5), "same", "unknown incompatible features 0x20")
# marked corrupt: qemu-img info opens read-only and accepts it; a VM opens
# it read-write, which qemu refuses
case("qcow2-incompat-corrupt", q(72, ">Q", 1 << 1), "stricter", "marked corrupt")
case("qcow2-incompat-dirty-ok", q(72, ">Q", 1 << 0), "same", "")
case("qcow2-extended-l2-small-clusters", q(72, ">Q", 1 << 4), "same", "extended L2 entries need cluster_bits >= 14")
case("qcow2-header-length-100", q(100, ">I", 100), "same", "header_length 100")
case("qcow2-header-length-huge", q(100, ">I", 1 << 20), "same", "header_length 1048576 exceeds")
# qemu does not check it, docs/interop/qcow2.txt requires it
case("qcow2-header-length-108", q(100, ">I", 108), "stricter", "header_length 108 is not a multiple of 8")
case("qcow2-refcount-order-7", q(96, ">I", 7), "same", "refcount_order 7")
case("qcow2-crypt-3", q(32, ">I", 3), "same", "crypt_method 3")
# encrypted: no key here, the image cannot be read or converted
case("qcow2-crypt-aes", q(32, ">I", 1), "stricter", "encrypted")
case("qcow2-compression-type-2", put(q(72, ">Q", 1 << 3), 104, "B", 2), "same", "compression_type 2")
case("qcow2-compression-type-no-bit", q(104, "B", 1), "same", "compression_type 1 without")
case("qcow2-l1-size-0", q(36, ">I", 0), "same", "l1_size 0 is too small")
case("qcow2-l1-size-2p31", q(36, ">I", 1 << 31), "same", "l1_size 2147483648 exceeds")
case("qcow2-l1-offset-unaligned", q(40, ">Q", 0x3001), "same", "l1_table_offset 12289 is not aligned")
# qemu reads zeros past the end of the file; the stream's end is known here
case("qcow2-l1-offset-beyond-eof", q(40, ">Q", 1 << 40), "stricter", "L1 table at l1_table_offset .* beyond the end")
case("qcow2-l1-offset-max", q(40, ">Q", (2**64 - 1) & ~0xFFF), "same", "l1_table_offset")
case("qcow2-refcount-offset-unaligned", q(48, ">Q", 0x1008), "same", "refcount_table_offset 4104 is not aligned")
case("qcow2-refcount-clusters-0", q(56, ">I", 0), "same", "refcount_table_clusters is 0")
case("qcow2-refcount-clusters-huge", q(56, ">I", 1 << 20), "same", "refcount table \\(refcount_table_clusters 1048576\\) exceeds")
case("qcow2-refcount-offset-beyond-eof", q(48, ">Q", 1 << 40), "stricter", "refcount table at refcount_table_offset .* beyond the end")
case("qcow2-snapshots-70000", q(60, ">I", 70000), "same", "nb_snapshots 70000 exceeds 65536")
case("qcow2-snapshots-offset-unaligned", q(64, ">Q", 0x1001), "same", "snapshots_offset 4097 is not aligned")
case("qcow2-snapshots-beyond-eof", put(q(60, ">I", 2), 64, ">Q", 1 << 40), "stricter", "snapshot table at snapshots_offset .* beyond the end")
# a disk of 0 bytes is not an image
case("qcow2-size-0", q(24, ">Q", 0), "stricter", "size 0 is not a disk size")
case("qcow2-size-2p62", q(24, ">Q", 1 << 62), "same", "size 4611686018427387904")
case("qcow2-size-max", q(24, ">Q", 2**64 - 1), "same", "size 18446744073709551615")
b = rd("q.qcow2")
put(b, 112, ">I", 0x12345678)
put(b, 116, ">I", 0xFFFFFFF0)
case("qcow2-extension-too-long", b, "same", "extension 0x12345678 .* runs past the first cluster")
b = rd("q.qcow2")
put(b, 112, ">I", 0xE2792ACA)
put(b, 116, ">I", 64)
case("qcow2-backing-format-ext-64", b, "same", "backing format extension of 64 bytes")
b = rd("q.qcow2")
put(b, 112, ">I", 0x44415441)
put(b, 116, ">I", 11)
b[120:131] = b"/etc/passwd"
case("qcow2-data-file-ext-no-bit", b, "stricter", 'external data file \\("/etc/passwd"\\)')
# cut after the header: qemu reads zeros for the missing tables
case("qcow2-cut-at-header", rd("q.qcow2")[:112], "stricter", "beyond the end")
case("qcow2-cut-20", rd("q.qcow2")[:20], "same", "truncated")

# ---- vmdk (base: monolithicSparse 1 MiB, streamOptimized, monolithicFlat) ----
v = rd("v.vmdk")
case("vmdk-ok", v, "same", "")
case("vmdk-stream-ok", rd("vs.vmdk"), "same", "")
case("vmdk-version-4", put(rd("v.vmdk"), 4, "<I", 4), "same", "version 4")
case("vmdk-gtes-1024", put(rd("v.vmdk"), 44, "<I", 1024), "same", "numGTEsPerGT 1024")
case("vmdk-grain-0", put(rd("v.vmdk"), 20, "<Q", 0), "same", "grainSize 0")
case("vmdk-capacity-overflow", put(rd("v.vmdk"), 12, "<Q", 2**64 - 1), "same", "capacity")


def desc(text, src="v.vmdk"):
    b = rd(src)
    off = struct.unpack_from("<Q", b, 28)[0] * 512
    size = struct.unpack_from("<Q", b, 36)[0] * 512
    t = text.encode()
    assert len(t) <= size
    b[off:off + size] = t + b"\0" * (size - len(t))
    return b


d0 = bytes(v[512:512 + 20 * 512]).split(b"\0")[0].decode()
# qemu opens the sparse extent itself and ignores createType and the extent
# lines unless the capacity is 0; a consumer trusting them would not
case("vmdk-createtype-flat", desc(d0.replace("monolithicSparse", "monolithicFlat")),
     "stricter", "createType splits")
case("vmdk-createtype-2gb", desc(d0.replace("monolithicSparse", "twoGbMaxExtentSparse")),
     "stricter", "createType splits")
ext = [l for l in d0.splitlines() if l.startswith("RW ")][0]
case("vmdk-extent-etc-passwd", desc(d0.replace(ext, 'RW 2048 FLAT "/etc/passwd" 0')),
     "stricter", "extent in another file")
case("vmdk-two-extents", desc(d0.replace(ext, ext + "\n" + 'RW 2048 SPARSE "other.vmdk"')),
     "stricter", "more than one extent")
# qemu-img info does not open backing files; the VM would
case("vmdk-parent-hint", desc(d0.replace("createType", 'parentFileNameHint="/etc/passwd"\ncreateType')),
     "stricter", "parent disk")
# capacity 0: qemu reads the embedded descriptor as a descriptor file
b = desc(d0.replace(ext, 'RW 2048 FLAT "/etc/passwd" 0'))
case("vmdk-capacity-0-descriptor", put(b, 12, "<Q", 0), "same", "capacity 0")
case("vmdk-descriptor-file-flat", rd("vf.vmdk"), "stricter", "descriptor file")
case("vmdk-descriptor-etc-passwd",
     bytearray(rd("vf.vmdk").decode().replace(
         [l for l in rd("vf.vmdk").decode().splitlines() if l.startswith("RW ")][0],
         'RW 2048 FLAT "/etc/passwd" 0').encode()), "stricter", "descriptor file")


def with_footer(capacity=None):
    """streamOptimized as VMware writes it: gdOffset in the header says
    "at the end", the footer 3 sectors before the end holds the header."""
    b = rd("vs.vmdk")
    foot = bytearray(b[:512])
    if capacity is not None:
        put(foot, 12, "<Q", capacity)
    put(b, 56, "<Q", 2**64 - 1)
    marker = bytearray(512)
    put(marker, 0, "<Q", 1)
    put(marker, 12, "<I", 3)
    return b + marker + foot + bytearray(512)


case("vmdk-footer-ok", with_footer(), "same", "")
# qemu reads the capacity from the footer: 0 bytes, not a disk
case("vmdk-footer-capacity-0", with_footer(0), "stricter", "capacity 0")
b = with_footer()
put(b, len(b) - 1536 + 12, "<I", 7)
case("vmdk-footer-bad-marker", b, "same", "no valid footer")
case("vmdk-cowd", bytearray(b"COWD" + b"\1\0\0\0" + b"\0" * 2040), "same", "COWD")

# ---- vpc (dynamic), vdi, vhdx ------------------------------------------------


def vpc_sum(b, off):
    put(b, off + 0x40, ">I", 0)
    put(b, off + 0x40, ">I", ~sum(b[off:off + 512]) & 0xFFFFFFFF)
    return b


p = rd("p.vpc")
case("vpc-ok", p, "same", "")
b = put(rd("p.vpc"), 0x3C, ">I", 4)
vpc_sum(b, 0)
put(b, len(b) - 512 + 0x3C, ">I", 4)
vpc_sum(b, len(b) - 512)
# differencing: qemu opens it as if it had no parent; the VM would miss
# the parent's data (and a reader that follows the locator opens a file)
case("vpc-differencing", b, "stricter", "differencing")
b = put(rd("p.vpc"), 0x3C, ">I", 9)
vpc_sum(b, 0)
case("vpc-disk-type-9", b, "stricter", "disk type 9")
b = rd("p.vpc")
dyn = struct.unpack_from(">Q", b, 16)[0]
put(b, dyn + 32, ">I", 1000)  # block size not a power of 2
case("vpc-block-size-1000", b, "same", "block size 1000")

i = rd("i.vdi")
case("vdi-ok", i, "same", "")
case("vdi-version", put(rd("i.vdi"), 0x44, "<I", 0x00020000), "same", "version 2.0")
b = rd("i.vdi")
b[0x1B8:0x1C8] = b"\x11" * 16
case("vdi-parent-uuid", b, "same", "differencing")
case("vdi-block-size", put(rd("i.vdi"), 0x178, "<I", 4096), "same", "block size 4096")
case("vdi-disk-size-huge", put(rd("i.vdi"), 0x170, "<Q", 1 << 50), "same", "disk size")


def vhdx_meta(b):
    rt = 0x30000
    n = struct.unpack_from("<I", b, rt + 8)[0]
    for k in range(n):
        e = rt + 16 + 32 * k
        if b[e:e + 16] == bytes.fromhex("06a27c8b90479a4bb8fe575f050f886e"):
            return struct.unpack_from("<Q", b, e + 16)[0]
    raise SystemExit("no vhdx metadata region")


x = rd("x.vhdx")[:4 << 20]  # qemu-img puts every header in the first MiBs
case("vhdx-ok-prefix", x, "none", "")
b = bytearray(x)
m = vhdx_meta(b)
n = struct.unpack_from("<H", b, m + 10)[0]
for k in range(n):
    e = m + 32 + 32 * k
    if b[e:e + 16] == bytes.fromhex("3767a1ca36fa434db3b633f0aa44e76b"):
        off = struct.unpack_from("<I", b, e + 16)[0]
        put(b, m + off + 4, "<I", struct.unpack_from("<I", b, m + off + 4)[0] | 2)
case("vhdx-has-parent", b, "same", "parent")
b = bytearray(x)
put(b, 0x30008, "<I", 0xFFFFFFFF)
case("vhdx-region-count-huge", b, "same", "region table")
b = bytearray(x)
e = 0x30000 + 16
for k in range(struct.unpack_from("<I", b, 0x30008)[0]):
    if b[e + 32 * k:e + 32 * k + 16] == bytes.fromhex("06a27c8b90479a4bb8fe575f050f886e"):
        put(b, e + 32 * k + 16, "<Q", 2**64 - 16)  # wraps moff + 32
case("vhdx-metadata-offset-wraps", b, "same", "metadata region")



def compact(b):
    rt = 0x30000
    for k in range(min(struct.unpack_from("<I", b, rt + 8)[0], 8)):
        e = rt + 16 + 32 * k
        if b[e:e + 16] == bytes.fromhex("06a27c8b90479a4bb8fe575f050f886e"):
            m = struct.unpack_from("<Q", b, e + 16)[0]
            if m < len(b):
                put(b, e + 16, "<Q", 0x40000)
                return b[:0x40000] + b[m:m + 0x11000]
    return b[:0x40000]


if corpus:
    for name, _, _ in manifest:
        if name.startswith("vhdx"):
            path = os.path.join(out, name)
            with open(path, "rb") as f:
                b = compact(bytearray(f.read()))
            with open(path, "wb") as f:
                f.write(bytes(b))
else:
    with open(os.path.join(out, "MANIFEST"), "w") as f:
        for row in manifest:
            f.write("\t".join(row) + "\n")
