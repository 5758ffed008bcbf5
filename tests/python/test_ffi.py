"""The ctypes mirror (python/lunamq/_ffi.py) matches core/include/lunamq.h:
struct layouts as the C compiler lays them out (abi_dump), enum values and
function arity as the header (and its generated cdef) declare them, and the
library is found or refused with a clear error."""
import ctypes
import ctypes.util
import os
import re
import subprocess
import sys
import unittest

from lunamq import _ffi


def header_text():
    with open(os.environ["LMQ_HEADER"]) as f:
        return f.read()


def header_enums(text):
    return {m.group(1): int(m.group(2), 0)
            for m in re.finditer(r"\b(LMQ_[A-Z0-9_]+)\s*=\s*(-?(?:0[xX][0-9A-Fa-f]+|\d+))",
                                 text)}


class TestLayout(unittest.TestCase):
    def dump(self):
        out = subprocess.run([os.environ["LMQ_ABI_DUMP"]], check=True,
                             stdout=subprocess.PIPE, universal_newlines=True).stdout
        return dict(line.rsplit(" ", 1) for line in out.splitlines())

    def test_event_struct_matches_the_c_layout(self):
        d = self.dump()
        self.assertEqual(int(d["sizeof lmq_event"]), ctypes.sizeof(_ffi.Event))
        for name, _ in _ffi.Event._fields_:
            self.assertEqual(int(d["offsetof lmq_event.%s" % name]),
                             getattr(_ffi.Event, name).offset, name)
        # every C field is mirrored
        c_fields = [k.split(".", 1)[1] for k in d if k.startswith("offsetof lmq_event.")]
        self.assertEqual(sorted(c_fields), sorted(_ffi.EVENT_FIELDS))

    def test_event_fields_are_the_cdef_struct_in_order(self):
        # The ctypes fields are the header's, name for name and in order,
        # with the width of each C type: nothing hand-copied drifts.
        with open(os.environ["LMQ_CDEF"]) as f:
            cdef = re.sub(r"\s+", " ", f.read())
        body = re.search(r"typedef struct lmq_event \{(.*?)\} lmq_event;", cdef).group(1)
        c_fields = [re.search(r"(\w+)$", decl.strip()).group(1)
                    for decl in body.split(";") if decl.strip()]
        self.assertEqual(c_fields, list(_ffi.EVENT_FIELDS))
        for decl in body.split(";"):
            decl = decl.strip()
            if not decl:
                continue
            name = re.search(r"(\w+)$", decl).group(1)
            ctype = dict(_ffi.Event._fields_)[name]
            want = ctypes.c_void_p if "*" in decl else {
                "uint32_t": ctypes.c_uint32, "int32_t": ctypes.c_int32}[decl.split()[0]]
            self.assertIs(ctype, want, name)
        # the E_* row indices follow the fields
        for i, name in enumerate(_ffi.EVENT_FIELDS):
            self.assertEqual(getattr(_ffi, "E_" + name.upper()), i, name)
            self.assertEqual(_ffi.EV[name], i)

    def test_bulk_unpack_format_covers_the_event_stride(self):
        self.assertTrue(_ffi.EVENT_BULK_OK)
        ev = _ffi.Event(type=4, error=-5, topic_len=3, topic=0x1234, payload_len=7,
                        n_reasons=2, props_len=9, text=0x99, packet_id=77, log_level=3)
        row = _ffi.EVENT_STRUCT.unpack(bytes(ev))
        got = dict(zip(_ffi.EVENT_FIELDS, row))
        self.assertEqual((got["type"], got["error"], got["topic_len"], got["topic"],
                          got["payload_len"], got["n_reasons"], got["props_len"],
                          got["text"], got["packet_id"], got["log_level"]),
                         (4, -5, 3, 0x1234, 7, 2, 9, 0x99, 77, 3))

    def test_the_engine_never_writes_past_the_callers_event(self):
        # A caller built against a newer header (a bigger lmq_event): the
        # engine strides by its size, fills its own fields (struct_size
        # says how much) and zeroes the rest; smaller than the first
        # growable layout is refused.
        L = _ffi.lib()
        c = L.lmq_client_new()
        try:
            L.lmq_client_set_int(c, _ffi.LMQ_OPT_LOG_LEVEL, _ffi.LMQ_LOG_DEBUG)
            L.lmq_client_set_str(c, _ffi.LMQ_OPT_HOST, b"127.0.0.1", -1)
            L.lmq_client_set_int(c, _ffi.LMQ_OPT_PORT, 1)     # refused at once
            L.lmq_client_set_int(c, _ffi.LMQ_OPT_RECONNECT, 0)
            L.lmq_client_connect(c)
            size = _ffi.EVENT_SIZE
            big = size + 16
            buf = (ctypes.c_ubyte * (big * 4))(*([0xAB] * (big * 4)))
            ptr = ctypes.cast(buf, ctypes.POINTER(_ffi.Event))
            self.assertEqual(L.lmq_client_events(c, ptr, 4, _ffi.Event.text.offset), _ffi.LMQ_EINVAL)
            n = L.lmq_client_events(c, ptr, 4, big)
            self.assertGreaterEqual(n, 1)
            for i in range(n):
                ev = _ffi.Event.from_buffer(buf, i * big)
                self.assertEqual(ev.struct_size, size)
                self.assertIn(ev.type, set(_ffi.EventType))
                self.assertEqual(bytes(buf[i * big + size:(i + 1) * big]), bytes(16))
            # past the n events: untouched
            self.assertEqual(bytes(buf[n * big:n * big + 8]), b"\xab" * 8)
        finally:
            L.lmq_client_free(c)

    def test_subscription_struct_matches_the_c_layout(self):
        d = self.dump()
        self.assertEqual(int(d["sizeof lmq_subscription"]), ctypes.sizeof(_ffi.Subscription))
        for name, _ in _ffi.Subscription._fields_:
            self.assertEqual(int(d["offsetof lmq_subscription.%s" % name]),
                             getattr(_ffi.Subscription, name).offset, name)


class TestHeader(unittest.TestCase):
    def test_the_generated_constants_are_the_headers(self):
        # python/lunamq/_consts.py is scripts/gen_py_consts's output for
        # this header, byte for byte.
        gen = os.path.join(os.path.dirname(os.environ["LMQ_HEADER"]), "..", "..",
                           "scripts", "gen_py_consts")
        p = subprocess.run([sys.executable, gen, "--check"], stderr=subprocess.PIPE,
                           universal_newlines=True)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_enum_values_match_the_header(self):
        from lunamq import _consts
        enums = header_enums(header_text())
        names = {n for n in dir(_consts) if n.startswith("LMQ_")}
        self.assertEqual(names, set(enums))
        for name in names:
            self.assertEqual(int(getattr(_ffi, name)), enums[name], name)
        self.assertIs(_ffi.LMQ_EV_MESSAGE, _ffi.EventType.MESSAGE)
        self.assertEqual(_ffi.Option.LOG_LEVEL, enums["LMQ_OPT_LOG_LEVEL"])

    def test_every_error_code_has_its_header_group(self):
        self.assertEqual(_ffi.ERROR_GROUP[_ffi.LMQ_EINVAL], "general")
        self.assertEqual(_ffi.ERROR_GROUP[_ffi.LMQ_ETOPIC_WILDCARD], "strings and topics")
        self.assertEqual(set(_ffi.ERROR_GROUP), {int(e) for e in _ffi.Error})
        L = _ffi.lib()
        for e in _ffi.Error:
            self.assertEqual(L.lmq_errname(e).decode(), "LMQ_" + e.name)
        from lunamq._common import ARGUMENT_ERRORS
        self.assertIn(_ffi.LMQ_ETOPIC_WILDCARD, ARGUMENT_ERRORS)
        self.assertIn(_ffi.LMQ_EURL, ARGUMENT_ERRORS)
        self.assertNotIn(_ffi.LMQ_ENOMEM, ARGUMENT_ERRORS)
        self.assertNotIn(_ffi.LMQ_ECONNECT, ARGUMENT_ERRORS)

    def test_property_ids_match_enum_lmq_property(self):
        from lunamq._common import PROPERTIES
        ids = {v for k, v in header_enums(header_text()).items() if k.startswith("LMQ_PROP_")
               and not k.startswith("LMQ_PROPS_")}
        self.assertTrue(ids)
        self.assertEqual(ids, set(PROPERTIES))

    def test_declared_functions_exist_in_the_cdef_with_the_same_arity(self):
        with open(os.environ["LMQ_CDEF"]) as f:
            cdef = re.sub(r"\s+", " ", f.read())
        for name, (_, argtypes) in _ffi.FUNCTIONS.items():
            m = re.search(r"\b%s\s*\(([^)]*)\)" % name, cdef)
            self.assertIsNotNone(m, "%s not declared in the cdef" % name)
            params = m.group(1).strip()
            n = 0 if params in ("", "void") else params.count(",") + 1
            self.assertEqual(n, len(argtypes), name)

    def test_the_library_reports_the_header_version(self):
        text = header_text()
        major = int(re.search(r"LMQ_VERSION_MAJOR (\d+)", text).group(1))
        number = int(re.search(r"LMQ_VERSION_NUMBER (\d+)", text).group(1))
        L = _ffi.lib()
        self.assertEqual(L.lmq_version_number(), number)
        self.assertEqual(major, _ffi.ABI_MAJOR)


class TestLoading(unittest.TestCase):
    def run_py(self, code, env_lib):
        env = dict(os.environ, LUNAMQ_LIBRARY=env_lib)
        return subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True)

    def test_import_works_without_the_library_and_use_says_where_it_looked(self):
        p = self.run_py("import lunamq\n"
                        "try:\n"
                        "    lunamq.Topic('a')\n"
                        "except lunamq.LibraryNotFound as e:\n"
                        "    print('ERR', e)\n", "/nonexistent/liblunamq.so")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("ERR cannot load liblunamq", p.stdout)
        self.assertIn("/nonexistent/liblunamq.so", p.stdout)

    def test_a_library_that_is_not_lunamq_is_refused(self):
        libc = ctypes.util.find_library("c")
        p = self.run_py("import lunamq\n"
                        "try:\n"
                        "    lunamq.library_version()\n"
                        "except lunamq.LibraryNotFound as e:\n"
                        "    print('ERR', e)\n", libc)
        self.assertIn("not a usable liblunamq", p.stdout)

    def test_the_library_is_found_next_to_the_package(self):
        import shutil
        import tempfile
        d = tempfile.mkdtemp()
        try:
            pkg = os.path.join(d, "lunamq")
            shutil.copytree(os.path.dirname(_ffi.__file__), pkg)
            shutil.copy(os.environ["LUNAMQ_LIBRARY"], os.path.join(pkg, "liblunamq.so.0"))
            env = {k: v for k, v in os.environ.items() if k != "LUNAMQ_LIBRARY"}
            env["PYTHONPATH"] = d
            p = subprocess.run([sys.executable, "-c",
                                "import lunamq, lunamq._ffi as f; lunamq.library_version();"
                                "print(f.lib()._name)"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, cwd=d)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(p.stdout.strip().startswith(pkg), p.stdout)
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
