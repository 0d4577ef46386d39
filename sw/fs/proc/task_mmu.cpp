// /proc/<pid>/maps (Linux fs/proc/task_mmu.c show_map_vma).
#include "sw/fs/proc/proc_fs.h"

#include "sw/lib/list.h"
#include "sw/lib/seq_file.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/page.h"

namespace fw {

void show_map(seq_file* m, const mm_struct& mm) {
  for (const list_head* p = mm.mmap.next; p != &mm.mmap; p = p->next) {
    const vm_area_struct* v = list_entry(const_cast<list_head*>(p), vm_area_struct, vm_list);
    // Linux names the hidden files behind shared and hugetlb memory.
    const char* name = (v->vm_flags & VM_HUGETLB) ? "/anon_hugepage (deleted)"
                       : v->vm_obj               ? "/dev/zero (deleted)"
                                                 : "";
    seq_printf(m, "%08lx-%08lx %c%c%c%c %08lx %02x:%02x %lu %s\n", static_cast<unsigned long>(v->vm_start),
               static_cast<unsigned long>(v->vm_end), (v->vm_flags & VM_READ) ? 'r' : '-',
               (v->vm_flags & VM_WRITE) ? 'w' : '-', (v->vm_flags & VM_EXEC) ? 'x' : '-',
               (v->vm_flags & VM_MAYSHARE) ? 's' : 'p', static_cast<unsigned long>(v->vm_obj ? v->vm_pgoff << PAGE_SHIFT : 0),
               0u, 0u, 0ul, name);
  }
}

}  // namespace fw
