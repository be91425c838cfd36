/* forkmap.c - fork children start with the shim's read-only pages mapped
 * (see forkmap.h). */
#include "forkmap.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* The shim's own ELF header, as mapped (the linker defines it, at the
 * start of the first segment). */
extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

/* Maps in [start, end) and rewrites the byte at the start of its last page
 * with its own value through mem (an fd of /proc/self/mem): the mapping gets
 * an anon_vma (forkmap.h). 1 when the byte was written, else 0. */
static int give_anon_vma(int mem, uintptr_t start, uintptr_t end)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return 0;
    start &= ~(uintptr_t)(page - 1);
    end = (end + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
    if (end <= start)
        return 0;
    /* fork copies the entries that are there: all of them (Linux 5.14+;
     * before, only the pages the process touched, which is what children
     * touch most) */
    (void)raw_syscall(SYS_madvise, (long)start, (long)(end - start), MADV_POPULATE_READ, 0, 0, 0);
    uintptr_t at = end - (uintptr_t)page;
    unsigned char byte = *(volatile const unsigned char *)at;
    return raw_syscall(SYS_pwrite64, mem, (long)&byte, 1, (long)at, 0, 0) == 1;
}

int forkmap_init(void)
{
    const ElfW(Ehdr) *eh = &__ehdr_start;
    if (eh->e_ident[EI_MAG0] != ELFMAG0 || eh->e_ident[EI_MAG1] != ELFMAG1 || eh->e_ident[EI_MAG2] != ELFMAG2
        || eh->e_ident[EI_MAG3] != ELFMAG3 || eh->e_phentsize != sizeof(ElfW(Phdr)))
        return 0;
    /* through an integer: the program headers lie past the header object
     * the linker names, in the same mapped segment (UBSan's object-size
     * check would take a pointer derived from it for an overflow) */
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((uintptr_t)eh + (uintptr_t)eh->e_phoff);
    /* the load bias: the first segment (the one holding the header) starts at offset 0 */
    uintptr_t bias = 0;
    int found = 0;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
            bias = (uintptr_t)eh - ph[i].p_vaddr;
            found = 1;
            break;
        }
    if (!found)
        return 0;
    int mem = (int)raw_syscall(SYS_openat, AT_FDCWD, (long)"/proc/self/mem", O_RDWR | O_CLOEXEC, 0, 0, 0);
    if (mem < 0)
        return 0;
    int done = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD || (ph[i].p_flags & PF_W) || !ph[i].p_memsz)
            continue;
        if (!give_anon_vma(mem, bias + ph[i].p_vaddr, bias + ph[i].p_vaddr + ph[i].p_memsz))
            break; /* refused: the others would be too */
        done++;
    }
    raw_syscall(SYS_close, mem, 0, 0, 0, 0, 0);
    return done;
}
