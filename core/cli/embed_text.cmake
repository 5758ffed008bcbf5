# cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed_text.cmake
# Writes IN as a NUL-terminated C array, so a generated text (the FFI cdef)
# is part of the program that needs it and cannot drift from the header it
# was made from.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "/* generated from ${IN} by embed_text.cmake: do not edit */\n"
  "extern const char ${NAME}[];\n"
  "const char ${NAME}[] = {\n${bytes}0x00 };\n")
file(RENAME "${OUT}.tmp" "${OUT}")
