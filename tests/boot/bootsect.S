/* shmap boot test: a 512-byte boot sector (x86 real mode, GNU as syntax).
 *
 * SeaBIOS loads it at 0:7C00 from the disk behind QEMU's vhost-user-blk
 * device and jumps to it with the BIOS drive number in DL. It then
 *   1. prints "shmap-boot: hello from the shmap disk" on COM1 (0x3F8);
 *   2. follows a chain of records through the disk with int 13h extended
 *      reads (AH=42h), starting at LBA 1; each record is one sector:
 *        0..7   "SHMAPSEC"
 *        8..11  LBA of the next record, 0 = last
 *        12..15 LBA to write this record back to, 0 = none (AH=43h; the
 *               copy written starts with "SHMAPOUT" instead)
 *        16..   text, NUL-terminated, printed on COM1 as it is
 *   3. prints "shmap-boot: done" and writes EXIT_OK to the isa-debug-exit
 *      port 0xF4, which ends QEMU with status (EXIT_OK << 1) | 1.
 * Any failure prints "shmap-boot: FAIL <what>" and exits with its own code,
 * so the harness can tell which step broke from QEMU's status alone.
 *
 * Build: as --32 -o b.o bootsect.S && ld -m elf_i386 -Ttext=0x7c00 \
 *        --oformat=binary -e start -o b.bin b.o        (512 bytes)
 */
        .code16
        .set COM1, 0x3f8
        .set EXIT_PORT, 0xf4
        .set EXIT_OK, 0x21       /* QEMU status 67 */
        .set EXIT_NO_EDD, 0x30   /* 97: no int 13h extensions on DL */
        .set EXIT_READ, 0x31     /* 99: a read failed (CF set) */
        .set EXIT_MAGIC, 0x32    /* 101: a record lacks "SHMAPSEC" */
        .set EXIT_WRITE, 0x33    /* 103: a write failed */
        .set EXIT_CHAIN, 0x34    /* 105: more than MAX_HOPS records */
        .set MAX_HOPS, 8
        .set BUF, 0x7e00         /* one sector, just past this code */

        .text
        .globl start
start:
        cli
        xorw %ax, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movw $0x7c00, %sp
        sti
        ljmp $0, $canon          /* CS:IP = 0:7Cxx whatever the BIOS used */
canon:
        cld
        movb %dl, drive

        /* COM1: 115200 8N1, FIFO on. QEMU's UART also takes raw bytes
         * without this, a real one does not. */
        movw $COM1 + 1, %dx
        xorb %al, %al
        outb %al, %dx            /* no interrupts */
        movw $COM1 + 3, %dx
        movb $0x80, %al
        outb %al, %dx            /* DLAB on */
        movw $COM1, %dx
        movb $1, %al
        outb %al, %dx            /* divisor 1 = 115200 */
        incw %dx
        xorb %al, %al
        outb %al, %dx
        movw $COM1 + 3, %dx
        movb $0x03, %al
        outb %al, %dx            /* 8N1, DLAB off */
        movw $COM1 + 2, %dx
        movb $0x07, %al
        outb %al, %dx            /* FIFO on and cleared */

        movw $msg_hello, %si
        call puts

        /* Extended disk services on the boot drive? */
        movb $0x41, %ah
        movw $0x55aa, %bx
        movb drive, %dl
        int $0x13
        movb $EXIT_NO_EDD, %al
        movw $msg_no_edd, %si
        jc fail
        cmpw $0xaa55, %bx
        jne fail

        movl $1, %eax            /* the first record */
        movb $MAX_HOPS, hops
record:                          /* EAX = LBA of the record */
        movl %eax, dap_lba
        movb $EXIT_CHAIN, %al
        movw $msg_chain, %si
        decb hops
        js fail
        movb $0x42, %ah
        call disk
        movb $EXIT_READ, %al
        movw $msg_read, %si
        jc fail

        movw $BUF, %si
        movw $magic_in, %di
        movw $8, %cx
        repe cmpsb
        movb $EXIT_MAGIC, %al
        movw $msg_magic, %si
        jne fail

        movw $BUF + 16, %si
        call puts

        movl BUF + 12, %eax      /* write this record back somewhere? */
        testl %eax, %eax
        jz 1f
        movl %eax, dap_lba
        movw $magic_out, %si
        movw $BUF, %di
        movw $8, %cx
        rep movsb
        movw $0x4300, %ax        /* AL=0: write without verify */
        call disk
        movb $EXIT_WRITE, %al
        movw $msg_write, %si
        jc fail
1:
        movl BUF + 8, %eax
        testl %eax, %eax
        jnz record

        movw $msg_done, %si
        call puts
        movb $EXIT_OK, %al
        jmp leave

/* AL = exit code, SI = what failed. */
fail:
        pushw %ax
        movw %si, %bx
        movw $msg_fail, %si
        call puts
        movw %bx, %si
        call puts
        popw %ax
leave:
        outb %al, $EXIT_PORT
        /* Still here: no isa-debug-exit device. Stop. */
halt:
        cli
        hlt
        jmp halt

/* int 13h with AH as given, DAP at dap, the boot drive. CF = failure. */
disk:
        movw $dap, %si
        movb drive, %dl
        int $0x13
        ret

/* Print the NUL-terminated string at DS:SI on COM1. */
puts:
        lodsb
        testb %al, %al
        jz 3f
        movb %al, %ah
        movw $COM1 + 5, %dx      /* line status */
        movw $0xffff, %cx        /* bounded wait for room */
2:
        inb %dx, %al
        testb $0x20, %al
        loopz 2b
        movw $COM1, %dx
        movb %ah, %al
        outb %al, %dx
        jmp puts
3:
        ret

        .align 4
dap:                            /* int 13h disk address packet */
        .byte 16, 0
        .word 1                  /* sectors */
        .word BUF, 0             /* offset, segment */
dap_lba:
        .long 0, 0
drive:  .byte 0
hops:   .byte 0
magic_in:  .ascii "SHMAPSEC"
magic_out: .ascii "SHMAPOUT"
msg_hello: .asciz "shmap-boot: hello from the shmap disk\r\n"
msg_done:  .asciz "shmap-boot: done\r\n"
msg_fail:  .asciz "shmap-boot: FAIL "
msg_no_edd: .asciz "no int 13h extensions\r\n"
msg_read:  .asciz "read\r\n"
msg_magic: .asciz "record magic\r\n"
msg_write: .asciz "write\r\n"
msg_chain: .asciz "record chain too long\r\n"

        .org 510
        .byte 0x55, 0xaa
