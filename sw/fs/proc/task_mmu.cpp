// /proc/<pid>/maps (Linux fs/proc/task_mmu.c show_map_vma).
#include "sw/fs/proc/proc_fs.h"

#include "sw/lib/list.h"
#include "sw/lib/seq_file.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/filemap.h"
#include "sw/mm/page.h"

namespace fw {

void show_map(seq_file* m, const mm_struct& mm) {
  for (const list_head* p = mm.mmap.next; p != &mm.mmap; p = p->next) {
    const vm_area_struct* v = list_entry(const_cast<list_head*>(p), vm_area_struct, vm_list);
    // Linux names the hidden files behind shared and hugetlb memory; a
    // mapped file shows its device, inode and name (mmcosim's files have
    // no directories: "/" and the workload's name).
    const inode* ino = (v->vm_obj && v->vm_obj->kind == MappingKind::file) ? v->vm_obj->host : nullptr;
    const char* name = (v->vm_flags & VM_HUGETLB) ? "/anon_hugepage (deleted)"
                       : ino                     ? ino->i_name
                       : v->vm_obj               ? "/dev/zero (deleted)"
                                                 : "";
    seq_printf(m, "%08lx-%08lx %c%c%c%c %08lx %02x:%02x %lu %s%s\n", static_cast<unsigned long>(v->vm_start),
               static_cast<unsigned long>(v->vm_end), (v->vm_flags & VM_READ) ? 'r' : '-',
               (v->vm_flags & VM_WRITE) ? 'w' : '-', (v->vm_flags & VM_EXEC) ? 'x' : '-',
               (v->vm_flags & VM_MAYSHARE) ? 's' : 'p', static_cast<unsigned long>(v->vm_obj ? v->vm_pgoff << PAGE_SHIFT : 0),
               ino ? ino->i_dev >> 8 : 0u, ino ? ino->i_dev & 0xff : 0u, ino ? static_cast<unsigned long>(ino->i_ino) : 0ul,
               ino ? "/" : "", name);
  }
}

}  // namespace fw
