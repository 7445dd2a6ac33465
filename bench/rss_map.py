#!/usr/bin/env python3
"""Where a process's resident memory is: per mapping (from /proc/PID/smaps), and for its
executable, per ELF section and (with the linker map) per input object. Needs root for
/proc/PID/pagemap of another user's process.

  bench/rss_map.py PID [--map LINK.map] [--top N]

A page of the executable counts as resident when pagemap says present; "anon" pages in a
file mapping are copy-on-write copies (relocated .data.rel.ro, .data, .bss).
"""
import argparse
import bisect
import collections
import os
import re
import struct
import subprocess

PAGE = 4096


def smaps(pid):
    """[(start, end, offset, path, rss_kb, anon_kb)]"""
    out, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \d+\s*(.*)", line)
            if m:
                cur = [int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16),
                       m.group(4).strip() or "[anon]", 0, 0]
                out.append(cur)
            elif line.startswith("Rss:"):
                cur[4] = int(line.split()[1])
            elif line.startswith("Anonymous:"):
                cur[5] = int(line.split()[1])
    return out


def present_pages(pid, start, end):
    """{vaddr: is_file_page} for resident pages in [start, end)."""
    n = (end - start) // PAGE
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(start // PAGE * 8)
        data = f.read(n * 8)
    pages = {}
    for i in range(n):
        (e,) = struct.unpack_from("<Q", data, i * 8)
        if e >> 63 & 1:
            pages[start + i * PAGE] = bool(e >> 61 & 1)
    return pages


def sections(path):
    """[(file_offset, size, vaddr, name)] of allocated sections."""
    out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True).stdout
    secs = []
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)"
                     r"\s+\S+\s+(\S*A\S*)\s", line)
        if m:
            secs.append((int(m.group(3), 16), int(m.group(4), 16), int(m.group(2), 16),
                         m.group(1)))
    return secs


def link_map_inputs(path):
    """[(vaddr, size, object, section)] of input sections in a GNU ld -Map file, sorted;
    object as the map names it: "dir/libx.a(member.o)" or "dir/file.o"."""
    inputs = []
    pending = None
    in_memory_map = False
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("Linker script and memory map"):
                in_memory_map = True
            if not in_memory_map:
                continue
            m = re.match(r"^ (\.\S+)\s*$", line)
            if m:
                pending = m.group(1)
                continue
            m = re.match(r"^ (\.\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
            if m and (m.group(1) or pending):
                size = int(m.group(3), 16)
                if size:
                    inputs.append((int(m.group(2), 16), size, m.group(4).strip(),
                                   m.group(1) or pending))
            pending = None
    inputs.sort()
    return inputs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pid")
    ap.add_argument("--map")
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    maps = smaps(args.pid)
    exe = os.path.realpath(f"/proc/{args.pid}/exe")
    by_path = collections.OrderedDict()
    for start, end, off, path, rss, anon in maps:
        key = path
        if path == "[anon]":
            # glibc thread stacks are 8 MiB mappings (their guard page is a mapping apart)
            key = "[anon: thread stacks]" if end - start == 8 << 20 else "[anon: other]"
        t = by_path.setdefault(key, [0, 0, 0])
        t[0] += rss
        t[1] += anon
        t[2] += 1
    print("mapping                                         Rss kB  Anon kB  vmas")
    for path, (rss, anon, n) in sorted(by_path.items(), key=lambda kv: -kv[1][0]):
        if rss:
            print(f"  {path[-44:]:44s} {rss:7d}  {anon:7d}  {n:4d}")
    print(f"  {'total':44s} {sum(v[0] for v in by_path.values()):7d}  "
          f"{sum(v[1] for v in by_path.values()):7d}")

    # The executable, page by page.
    secs = sections(exe)
    base = None
    pages = {}
    for start, end, off, path, rss, anon in maps:
        if path != exe:
            continue
        if off == 0 and base is None:
            base = start
        for va, is_file in present_pages(args.pid, start, end).items():
            pages[off + (va - start)] = is_file
    per_sec = collections.Counter()
    for off, is_file in pages.items():
        name = "(other)"
        for s_off, size, vaddr, sname in secs:
            if s_off <= off < s_off + max(size, 1) and sname != ".bss":
                name = sname
                break
        per_sec[(name, "file" if is_file else "anon")] += 1
    print(f"\n{exe}: resident pages by section (4 KiB pages; section size in KiB)")
    sizes = {s[3]: s[1] for s in secs}
    for (name, kind), n in sorted(per_sec.items(), key=lambda kv: -kv[1]):
        print(f"  {name:24s} {kind:4s} {n * 4:6d} KiB of {sizes.get(name, 0) // 1024:6d}")

    if args.map:
        inputs = [i for i in link_map_inputs(args.map) if i[3].startswith(".text")]
        starts = [i[0] for i in inputs]
        # vaddr of a file offset: through the section it is in
        per_obj = collections.Counter()
        obj_size = collections.Counter()
        for va, size, obj, section in inputs:
            if section.startswith(".text"):
                obj_size[re.sub(r".*/", "", obj)] += size
        for off in pages:
            for s_off, size, vaddr, sname in secs:
                if s_off <= off < s_off + size and sname.startswith(".text"):
                    va = vaddr + (off - s_off)
                    i = bisect.bisect_right(starts, va) - 1
                    if i >= 0 and va < inputs[i][0] + inputs[i][1]:
                        per_obj[re.sub(r".*/", "", inputs[i][2])] += 1
                    break
        print(f"\n.text resident by input object (top {args.top}, KiB resident / KiB linked)")
        for obj, n in per_obj.most_common(args.top):
            print(f"  {obj[-60:]:60s} {n * 4:6d} / {obj_size[obj] // 1024:6d}")


if __name__ == "__main__":
    main()
