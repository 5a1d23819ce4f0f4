#!/usr/bin/env bash
# Format detection against images qemu-img and genisoimage make at test
# time: the sniffer's format and virtual size must agree with
# `qemu-img info`, also through gzip and xz, also for hostile files.
. "$(dirname "$0")/lib.sh"

SNIFF="$ROOT/$BUILD/itests/sniff_file"
W=$T_TMP
qinfo() { # FILE -> "format virtual-size"
	qemu-img info --output=json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["format"], d["virtual-size"])'
}
expect_sniff() { # NAME FILE WANT
	local got
	got=$("$SNIFF" "$2" 2>&1)
	expect_eq "$1" "$3" "$got"
}

for fmt in qcow2 raw vmdk vdi vpc vhdx; do
	qemu-img create -q -f "$fmt" "$W/d.$fmt" 100M
	want=$(qinfo "$W/d.$fmt")
	expect_sniff "$fmt: format and virtual size as qemu-img says" "$W/d.$fmt" "$want false"
done
# an odd size, and a fixed VHD (footer only at the end)
qemu-img create -q -f qcow2 "$W/odd.qcow2" 1234567k
expect_sniff "qcow2 with an odd virtual size" "$W/odd.qcow2" "$(qinfo "$W/odd.qcow2") false"
qemu-img convert -q -O vpc -o subformat=fixed "$W/d.raw" "$W/fixed.vhd"
# (qemu-img probes a fixed VHD as raw; forced to vpc it reads the footer)
want=$(qemu-img info -f vpc --output=json "$W/fixed.vhd" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
expect_sniff "fixed vhd: the footer at the end gives vpc and its size" "$W/fixed.vhd" "vpc $want false"
# a qcow2 with data in it, gzip- and xz-compressed
qemu-img convert -q -O qcow2 -c "$W/d.raw" "$W/data.qcow2"
gzip -k -1 "$W/data.qcow2"
xz -k -0 "$W/data.qcow2"
want=$(qinfo "$W/data.qcow2")
expect_sniff "qcow2.gz is unpacked on the fly" "$W/data.qcow2.gz" "$want false"
expect_sniff "qcow2.xz is unpacked on the fly" "$W/data.qcow2.xz" "$want false"
# an iso
mkdir -p "$W/isodir" && echo hello >"$W/isodir/readme.txt"
genisoimage -quiet -o "$W/x.iso" "$W/isodir" 2>/dev/null
expect_sniff "iso: cdrom, size = bytes" "$W/x.iso" "iso $(stat -c %s "$W/x.iso") true"
gzip -k "$W/x.iso"
expect_sniff "iso.gz: unpacked size" "$W/x.iso.gz" "iso $(stat -c %s "$W/x.iso") true"
# hostile: a truncated gzip, a qcow2 header cut short
head -c $(($(stat -c %s "$W/data.qcow2.gz") / 2)) "$W/data.qcow2.gz" >"$W/cut.gz"
expect_match "a truncated gzip fails clearly" '^error: gzip: .*ends early' "$("$SNIFF" "$W/cut.gz")"
head -c 20 "$W/d.qcow2" >"$W/cut.qcow2"
expect_match "a cut qcow2 header fails clearly" '^error: qcow2: .*truncated' "$("$SNIFF" "$W/cut.qcow2")"

# hostile headers (tests/integration/sniff_mutate.py: fields patched into
# images qemu-img makes here).  qemu-img refuses => vimage refuses, with a
# message naming the field; qemu-img accepts => vimage agrees on format and
# size, unless the case is listed "stricter" there, with the reason.
B=$W/base M=$W/mutated
mkdir -p "$B"
qemu-img create -q -f qcow2 -o cluster_size=4096 "$B/q.qcow2" 1M
qemu-img create -q -f qcow2 -o cluster_size=4096,compat=0.10 "$B/q2.qcow2" 1M
qemu-img create -q -f qcow2 -o cluster_size=4096 -b /etc/passwd -F raw "$B/qb.qcow2" 1M
qemu-img create -q -f qcow2 -o cluster_size=4096,data_file="$B/qd.raw" "$B/qd.qcow2" 1M
qemu-img create -q -f vmdk "$B/v.vmdk" 1M
qemu-img create -q -f vmdk -o subformat=streamOptimized "$B/vs.vmdk" 1M
qemu-img create -q -f vmdk -o subformat=monolithicFlat "$B/vf.vmdk" 1M
qemu-img create -q -f vpc "$B/p.vpc" 1M
qemu-img create -q -f vdi "$B/i.vdi" 1M
qemu-img create -q -f vhdx "$B/x.vhdx" 1M
python3 "$ROOT/tests/integration/sniff_mutate.py" "$B" "$M"
cp "$B/vf-flat.vmdk" "$M/" # what the descriptor files name, for qemu-img
qverdict() { # FILE -> "format size", or "refused" (qemu-img info, probing)
	timeout 10 qemu-img info --output=json "$1" 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["format"], d["virtual-size"])' 2>/dev/null ||
		echo refused
}
while IFS=$'\t' read -r name kind re; do
	f=$M/$name
	ours=$("$SNIFF" "$f" 2>&1)
	[ "$kind" = none ] && continue
	theirs=$(qverdict "$f")
	if [ "$theirs" = refused ] || [ "$kind" = stricter ]; then
		if [ "$kind" = stricter ] && [ "$theirs" = refused ]; then
			not_ok "$name: listed as stricter than qemu-img, but qemu-img refuses it too"
			continue
		fi
		expect_match "$name: refused (qemu-img: $theirs), naming the cause" "^error: .*$re" "$ours"
	else
		expect_eq "$name: accepted as qemu-img does" "$theirs false" "$ours"
	fi
done <"$M/MANIFEST"
exit "$T_FAILED"
