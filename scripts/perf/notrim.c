int malloc_trim(unsigned long pad){(void)pad;return 0;}
