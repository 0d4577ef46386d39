# mmcosim-gdb.py: gdb support for the firmware developer (docs/debugging.md).
#
# gdb loads it by itself for the mmcosim binary: the build copies it next to
# build/mmcosim (and `cmake --install` next to bin/mmcosim) as
# "mmcosim-gdb.py", the name gdb's auto-load looks for, once the folder is on
# gdb's safe path:
#
#   echo "add-auto-load-safe-path /path/to/build" >> ~/.gdbinit
#
# or `source build/mmcosim-gdb.py` by hand.
#
# Pretty-printers: fw::page (struct page), fw::zone and fw::free_area,
# fw::vm_area_struct, fw::mm_struct, hw::TlbEntry. Commands, reading the
# live simulation (stop it anywhere once the machine is built, e.g. `break
# fw::Kernel::page_fault`):
#
#   mm-buddyinfo      free blocks per zone and order (/proc/buddyinfo)
#   mm-ptdump PID     a process's page tables read from simulated DRAM (the
#                     layout of the monitor's ptdump, Linux's ptdump)
#   mm-page PFN       the struct page of a page frame
#   mm-pte VALUE      a page-table entry decoded
#   mm-tlb [CPU]      the valid entries of a CPU's TLBs (as the monitor's tlb)
#   $mm_of(PID), $page_of(PFN)   convenience functions: print *$mm_of(1)
#
# They find the machine through two globals tb/top/machine.cpp sets for
# this purpose (mmcosim_gdb_kernel, mmcosim_gdb_platform), and simulated
# physical memory through the firmware's own record of its direct map
# (MmNodes::kaddr_), so they read what the firmware and the walker read.
import re
import struct

import gdb
import gdb.printing

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PTE_P, PTE_RW, PTE_US, PTE_PWT, PTE_PCD, PTE_A, PTE_D, PTE_PS, PTE_G = (1 << b for b in (0, 1, 2, 3, 4, 5, 6, 7, 8))
PTE_NX = 1 << 63


# ---- The machine ------------------------------------------------------------------

def kernel():
    k = gdb.parse_and_eval("mmcosim_gdb_kernel")
    if int(k) == 0:
        raise gdb.GdbError("mmcosim: no machine yet (stop once it is built, e.g. break fw::Kernel::page_fault)")
    return k.dereference()


def enum_names(type_name, prefix):
    """{value: name} of an enum, its prefix stripped ('PG_dirty' -> 'dirty')."""
    try:
        t = gdb.lookup_type(type_name)
    except gdb.error:
        return {}
    return {int(f.enumval): f.name.split("::")[-1][len(prefix):] for f in t.fields()}


def nodes(k):
    mm = k["nodes_"]
    return [mm["nodes_"][i] for i in range(int(mm["nr_nodes_"]))]


def phys_to_host(k, pa, length=1):
    """The host address of [pa, pa+length) through the firmware's direct map."""
    mm = k["nodes_"]
    for i in range(int(mm["nr_kaddr_"])):
        r = mm["kaddr_"][i]
        start, size = int(r["pa"]), int(r["len"])
        if start <= pa and pa + length <= start + size:
            return int(r["host"]) + (pa - start)
    return None


def read_phys_u64(k, pa, count):
    host = phys_to_host(k, pa, 8 * count)
    if host is None:
        return None
    data = gdb.selected_inferior().read_memory(host, 8 * count)
    return struct.unpack("<%dQ" % count, bytes(data))


def page_of_pfn(k, pfn):
    for pg in nodes(k):
        start, span = int(pg["node_start_pfn"]), int(pg["node_spanned_pages"])
        if start <= pfn < start + span:
            return pg["node_mem_map"] + (pfn - start)
    return None


def pfn_of_page(address):
    try:
        k = kernel()
    except gdb.GdbError:
        return None
    psize = gdb.lookup_type("fw::page").sizeof
    for pg in nodes(k):
        base = int(pg["node_mem_map"])
        span = int(pg["node_spanned_pages"])
        if base <= address < base + span * psize:
            return int(pg["node_start_pfn"]) + (address - base) // psize
    return None


def list_entries(head, type_name, member):
    """The objects of an intrusive list (fw::list_head), like list_for_each_entry."""
    t = gdb.lookup_type(type_name)
    offset = next(f.bitpos // 8 for f in t.fields() if f.name == member)
    end = int(head.address)
    p = head["next"]
    while int(p) != end and int(p) != 0:
        yield gdb.Value(int(p) - offset).cast(t.pointer()).dereference()
        p = p["next"]


def compact_size(n):
    units = ["", "K", "M", "G", "T", "P"]
    u = 0
    while u < 5 and n >= 1024 and n % 1024 == 0:
        n //= 1024
        u += 1
    return "%d%s" % (n, units[u])


def std_unique_ptr(v):
    t = v["_M_t"]
    try:
        t = t["_M_t"]
    except gdb.error:
        pass
    # A std::tuple<T*, deleter>: the pointer is its _Head_base<0> (asking
    # the tuple for _M_head_impl is ambiguous when the deleter's base has
    # one too).
    impl = t.cast(t.type.strip_typedefs().fields()[0].type)
    for f in impl.type.strip_typedefs().fields():
        if f.is_base_class and str(f.type.strip_typedefs()).startswith("std::_Head_base<0"):
            return impl.cast(f.type)["_M_head_impl"]
    return t["_M_head_impl"]


def std_vector(v):
    start, finish = v["_M_impl"]["_M_start"], v["_M_impl"]["_M_finish"]
    return [start[i] for i in range(int(finish - start))]


# ---- Decoding -----------------------------------------------------------------------

def pte_text(e, level=1):
    if not e & PTE_P:
        return "not present (%#x)" % e
    leaf = level == 1 or (level in (2, 3) and e & PTE_PS)
    bits = [("RW", PTE_RW), ("USR", PTE_US), ("PWT", PTE_PWT), ("PCD", PTE_PCD), ("A", PTE_A), ("D", PTE_D),
            ("PS", PTE_PS), ("GLB", PTE_G), ("NX", PTE_NX)]
    flags = " ".join(name for name, bit in bits if e & bit) or "-"
    frame = e & 0x000FFFFFFFFFF000
    if level > 1 and leaf:
        frame &= ~((1 << (PAGE_SHIFT + 9 * (level - 1))) - 1)
    what = "page" if leaf else "table"
    return "%s %#x [%s]" % (what, frame, flags)


class PagePrinter:
    """struct page: its frame, flags, type, counts and what it is used for."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        flags = int(v["flags"])
        names = enum_names("fw::pageflags", "PG_")
        nr = max(names) if names else 0
        set_flags = [names[b] for b in sorted(names) if b < nr and flags >> b & 1]
        zone_names = ["DMA", "DMA32", "Normal", "Movable", "Device"]
        zone = (flags >> 61) & 7
        node = (flags >> 58) & 7
        mapcount = int(v["_mapcount"])
        page_type = mapcount & 0xFFFFFFFF
        parts = []
        pfn = pfn_of_page(int(v.address)) if v.address is not None else None
        if pfn is not None:
            parts.append("pfn %#x" % pfn)
        parts.append("node %d zone %s" % (node, zone_names[zone] if zone < len(zone_names) else zone))
        parts.append("flags [%s]" % ",".join(set_flags))
        if (page_type & 0xF0000080) == 0xF0000000:
            parts.append("buddy order %d" % int(v["private_"]))
        elif (page_type & 0xF0000200) == 0xF0000000:
            parts.append("page table")
        else:
            parts.append("mapcount %d" % (mapcount + 1))
        parts.append("refcount %d" % int(v["_refcount"]))
        mapping = int(v["mapping"])
        if mapping & 1:
            parts.append("anon_vma %#x index %#x" % (mapping & ~1, int(v["index"])))
        return "struct page {%s}" % ", ".join(parts)


class FreeAreaPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        types = enum_names("fw::migratetype", "MIGRATE_")
        mt = self.val["nr_free_mt"]
        per = [int(mt[i]) for i in range(mt.type.range()[1] + 1)]
        shown = ", ".join("%s %d" % (types.get(i, str(i)).lower(), n) for i, n in enumerate(per) if n)
        return "free_area {%d free blocks%s}" % (int(self.val["nr_free"]), (": " + shown) if shown else "")


class ZonePrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        z = self.val
        name = z["name"].string() if int(z["name"]) else "?"
        if not int(z["present_pages"]):
            return "zone %s (node %d): empty" % (name, int(z["node"]))
        wm = [int(z["_watermark"][i]) for i in range(3)]
        return ("zone %s (node %d): pfns %#x-%#x, %d present, %d managed, %d free; watermarks min %d low %d high %d"
                % (name, int(z["node"]), int(z["zone_start_pfn"]),
                   int(z["zone_start_pfn"]) + int(z["spanned_pages"]), int(z["present_pages"]),
                   int(z["managed_pages"]), int(z["vm_stat"][0]), wm[0], wm[1], wm[2]))

    def children(self):
        fa = self.val["free_area"]
        for o in range(fa.type.range()[1] + 1):
            yield "order %d" % o, fa[o]


def vma_text(v):
    flags = int(v["vm_flags"])
    perms = ("r" if flags & 1 else "-") + ("w" if flags & 2 else "-") + ("x" if flags & 4 else "-") + \
            ("s" if flags & 8 else "p")
    extra = []
    if flags & 0x400000:
        extra.append("hugetlb %s" % compact_size(1 << int(v["huge_shift"])))
    if flags & 0x20000000:
        extra.append("MADV_HUGEPAGE")
    if int(v["anon_vma"]):
        extra.append("anon_vma %#x" % int(v["anon_vma"]))
    return "%#014x-%#014x %s %s%s" % (int(v["vm_start"]), int(v["vm_end"]), perms,
                                      compact_size(int(v["vm_end"]) - int(v["vm_start"])),
                                      (" (" + ", ".join(extra) + ")") if extra else "")


class VmaPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return "vm_area_struct {%s}" % vma_text(self.val)


class MmPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        m = self.val
        return ("mm_struct {id %d, pgd %#x, pcid %d, %d VMAs, %d users, rss anon %d shmem %d huge %d pages, "
                "%d page-table pages}" % (int(m["id"]), int(m["pgd"]), int(m["pcid"]), int(m["map_count"]),
                                          int(m["mm_users"]), int(m["rss_anon"]), int(m["rss_shmem"]),
                                          int(m["rss_huge"]), int(m["pgtables"])))

    def children(self):
        for i, vma in enumerate(list_entries(self.val["mmap"], "fw::vm_area_struct", "vm_list")):
            yield "vma[%d]" % i, vma


def tlb_entry_text(e):
    """As the monitor's `tlb` prints an entry (hw/mmu/mmu_monitor.cpp)."""
    shift = 12 + 9 * int(e["size"])
    return "va 0x%012x -> pa 0x%012x %4s pcid %4d %s %s %s %s %s%s" % (
        int(e["vpn"]) << shift, int(e["pa_base"]), compact_size(1 << shift), int(e["pcid"]),
        "RW" if bool(e["rw"]) else "ro", "USR" if bool(e["us"]) else "   ", "GLB" if bool(e["global"]) else "   ",
        "NX" if bool(e["nx"]) else "x ", "D" if bool(e["dirty"]) else " ",
        "" if int(e["host"]) else "  (no host pointer)")


class TlbEntryPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return "TlbEntry {%s}" % tlb_entry_text(self.val)


def build_printers():
    pp = gdb.printing.RegexpCollectionPrettyPrinter("mmcosim")
    pp.add_printer("page", "^fw::page$", PagePrinter)
    pp.add_printer("free_area", "^fw::free_area$", FreeAreaPrinter)
    pp.add_printer("zone", "^fw::zone$", ZonePrinter)
    pp.add_printer("vm_area_struct", "^fw::vm_area_struct$", VmaPrinter)
    pp.add_printer("mm_struct", "^fw::mm_struct$", MmPrinter)
    pp.add_printer("TlbEntry", "^hw::TlbEntry$", TlbEntryPrinter)
    return pp


# ---- Commands -------------------------------------------------------------------------

class BuddyInfo(gdb.Command):
    """mm-buddyinfo: free blocks per node, zone and order, as /proc/buddyinfo."""

    def __init__(self):
        super().__init__("mm-buddyinfo", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        k = kernel()
        for n, pg in enumerate(nodes(k)):
            zones = pg["node_zones"]
            for z in range(zones.type.range()[1] + 1):
                zn = zones[z]
                if not int(zn["present_pages"]):
                    continue
                fa = zn["free_area"]
                counts = "".join("%6d " % int(fa[o]["nr_free"]) for o in range(fa.type.range()[1] + 1))
                gdb.write("Node %d, zone %8s %s\n" % (n, zn["name"].string(), counts))


class PtDump(gdb.Command):
    """mm-ptdump PID: the page tables of a process (0: the kernel's), read
    from simulated DRAM: runs of leaves with equal attributes, user half then
    kernel half, as the monitor's ptdump and Linux's ptdump print them."""

    LEVEL_NAMES = ["", "pte", "pmd", "pud", "p4d", "pgd"]

    def __init__(self):
        super().__init__("mm-ptdump", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        k = kernel()
        try:
            pid = int(arg, 0)
        except ValueError:
            raise gdb.GdbError("mm-ptdump PID")
        if pid == 0:
            root = int(k["kernel_root_"])
        else:
            task = next((t for t in list_entries(k["tasks_"], "fw::task_struct", "tasks") if int(t["pid"]) == pid), None)
            if task is None or not int(task["mm"]):
                raise gdb.GdbError("no process %d" % pid)
            root = int(task["mm"]["pgd"])
        self.levels = int(k["boot_"]["paging_levels"])
        self.mask = ((1 << int(k["boot_"]["maxphyaddr"])) - 1) & ~0xFFF
        self.k = k
        self.run = None
        self.kernel_shown = False
        gdb.write("---[ User Space ]---   (root table at %#x)\n" % root)
        self.walk(root & self.mask, self.levels, 0)
        self.flush()
        if not self.kernel_shown:
            gdb.write("---[ Kernel Space ]---\n")

    def walk(self, table, level, va_base):
        entries = read_phys_u64(self.k, table, 512)
        if entries is None:
            self.flush()
            gdb.write("  (table at %#x is not readable)\n" % table)
            return
        shift = 12 + 9 * (level - 1)
        for i, e in enumerate(entries):
            va = va_base + (i << shift)
            if level == self.levels and i == 256:
                self.flush()
                gdb.write("---[ Kernel Space ]---\n")
                self.kernel_shown = True
            if level == self.levels and i >= 256:
                va |= (~0 << (57 if self.levels == 5 else 48)) & 0xFFFFFFFFFFFFFFFF
            if not e & PTE_P:
                self.flush()
                continue
            if level == 1 or (level in (2, 3) and e & PTE_PS):
                self.leaf(va, e, level)
            else:
                self.walk(e & self.mask, level - 1, va)

    def leaf(self, va, e, level):
        attrs = "%s %s %s %s %s %s %s" % ("RW" if e & PTE_RW else "ro", "USR" if e & PTE_US else "   ",
                                          "GLB" if e & PTE_G else "   ", "NX" if e & PTE_NX else "x ",
                                          "A" if e & PTE_A else " ", "D" if e & PTE_D else " ",
                                          self.LEVEL_NAMES[level])
        size = 1 << (12 + 9 * (level - 1))
        if self.run and self.run[1] == va and self.run[2] == attrs:
            self.run[1] = va + size
            return
        self.flush()
        self.run = [va, va + size, attrs]

    def flush(self):
        if self.run:
            start, end, attrs = self.run
            gdb.write("0x%016x-0x%016x %9s  %s\n" % (start, end, compact_size(end - start), attrs))
            self.run = None


class PageCmd(gdb.Command):
    """mm-page PFN: the struct page of a page frame number."""

    def __init__(self):
        super().__init__("mm-page", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        try:
            pfn = int(gdb.parse_and_eval(arg)) if arg else None
        except gdb.error:
            pfn = None
        if pfn is None:
            raise gdb.GdbError("mm-page PFN")
        p = page_of_pfn(kernel(), pfn)
        if p is None:
            raise gdb.GdbError("pfn %#x has no struct page" % pfn)
        gdb.write("%s\n" % p.dereference().format_string())


class PteCmd(gdb.Command):
    """mm-pte VALUE [LEVEL]: a page-table entry decoded (LEVEL 1 pte, 2 pmd, 3 pud...)."""

    def __init__(self):
        super().__init__("mm-pte", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        words = arg.split()
        if not words:
            raise gdb.GdbError("mm-pte VALUE [LEVEL]")
        value = int(gdb.parse_and_eval(words[0])) & 0xFFFFFFFFFFFFFFFF
        level = int(words[1]) if len(words) > 1 else 1
        gdb.write("%s\n" % pte_text(value, level))


class TlbCmd(gdb.Command):
    """mm-tlb [CPU]: the valid entries of a CPU's TLBs (DTLB, ITLB, STLB)."""

    def __init__(self):
        super().__init__("mm-tlb", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        plat = gdb.parse_and_eval("mmcosim_gdb_platform")
        if int(plat) == 0:
            raise gdb.GdbError("mmcosim: no machine yet")
        cpu = int(arg, 0) if arg.strip() else 0
        cpus = std_vector(plat.dereference()["cpus_"])
        if cpu >= len(cpus):
            raise gdb.GdbError("no cpu %d (the machine has %d)" % (cpu, len(cpus)))
        mmu = std_unique_ptr(cpus[cpu])["mmu"]
        gdb.write("cpu%d: CR3 %#x, PCID %d\n" % (cpu, int(mmu["cr3_"]), int(mmu["pcid_"])))
        for name in ("itlb_", "dtlb_", "stlb_"):
            tlb = std_unique_ptr(mmu[name])
            if not int(tlb):
                continue
            gdb.write("%s:\n" % name.rstrip("_"))
            shown = 0
            for arr in std_vector(tlb.dereference()["arrays_"]):
                a = std_unique_ptr(arr).dereference()
                tags, entries = std_vector(a["tags_"]), std_vector(a["entries_"])
                for tag, e in zip(tags, entries):
                    if int(tag) != 0xFFFFFFFFFFFFFFFF:
                        gdb.write("  %s\n" % tlb_entry_text(e))
                        shown += 1
            if not shown:
                gdb.write("  (empty)\n")


class MmOf(gdb.Function):
    """$mm_of(PID): the mm_struct * of a process (print *$mm_of(1))."""

    def __init__(self):
        super().__init__("mm_of")

    def invoke(self, pid):
        for t in list_entries(kernel()["tasks_"], "fw::task_struct", "tasks"):
            if int(t["pid"]) == int(pid):
                return t["mm"]
        raise gdb.GdbError("no process %d" % int(pid))


class PageOf(gdb.Function):
    """$page_of(PFN): the struct page * of a page frame (print *$page_of(0x1234))."""

    def __init__(self):
        super().__init__("page_of")

    def invoke(self, pfn):
        p = page_of_pfn(kernel(), int(pfn))
        if p is None:
            raise gdb.GdbError("pfn %#x has no struct page" % int(pfn))
        return p


def register(objfile=None):
    gdb.printing.register_pretty_printer(objfile, build_printers(), replace=True)
    for cmd in (BuddyInfo, PtDump, PageCmd, PteCmd, TlbCmd, MmOf, PageOf):
        cmd()


register(gdb.current_objfile())
