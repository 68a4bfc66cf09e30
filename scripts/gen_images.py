#!/usr/bin/env python3
"""Generate the product illustrations for the Sneakers store.

One parametrized side-profile sneaker drawing (toe pointing left) is
rendered per product with its own palette and a few shape switches
(low / high top, slim / cup / chunky / runner / trail sole, gum outsole,
visible air window, accent style). Output: static/images/<file>.svg plus
static/images/favicon.svg. Standard library only; run from anywhere:

    python3 scripts/gen_images.py

The accent panels are generic shapes (a sweep, stripes, a wave), not
brand logos.
"""

import math
import os

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "static", "images")

GROUND = 322  # y of the ground line (bottom of the outsole)


def f(v):
    """Format a number compactly for SVG output."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def pt(p):
    return f"{f(p[0])},{f(p[1])}"


class Shoe:
    """Geometry helper: y values are given as heights above the midsole top."""

    def __init__(self, spec):
        self.s = spec
        self.sole_h = spec.get("sole_h", 36)
        self.S = GROUND - self.sole_h  # midsole top at the forefoot
        self.k = spec.get("k", 1.0)  # vertical squash of the upper (slim shoes)
        self.rise = spec.get("heel_rise", 0)  # sole gets taller toward the heel

    def P(self, x, h):
        return (x, self.S - h * self.k)

    def path(self, *cmds):
        out = []
        for c in cmds:
            if isinstance(c, str):
                out.append(c)
            else:
                out.append(pt(self.P(*c)))
        return " ".join(out)


def upper_path(sh):
    """Silhouette of the upper (without the tongue)."""
    P = sh.path
    front = ("M", (58, -10), "C", (48, 30), (68, 60), (122, 68),
             "C", (150, 72), (176, 84), (200, 98))
    if sh.s.get("high"):
        return P(*front, "L", (304, 252),
                 "C", (360, 264), (430, 270), (478, 268),
                 "C", (502, 266), (512, 250), (508, 216),
                 "C", (504, 160), (552, 110), (546, -10), "Z")
    return P(*front, "L", (298, 162),
             "C", (318, 164), (332, 146), (372, 142),
             "C", (430, 136), (470, 158), (506, 172),
             "C", (536, 166), (552, 100), (546, -10), "Z")


def eyestay(sh):
    """Start (front) and end (throat) of the lacing line."""
    if sh.s.get("high"):
        return sh.P(200, 98), sh.P(304, 252)
    return sh.P(200, 98), sh.P(298, 162)


def unit(a, b):
    dx, dy = b[0] - a[0], b[1] - a[1]
    ln = math.hypot(dx, dy)
    return dx / ln, dy / ln


def off(p, d, n):
    return (p[0] + d[0] * n, p[1] + d[1] * n)


def sole_path(sh):
    S, G, r = sh.S, GROUND, sh.rise
    top = sh.s.get("sole") in ("runner", "trail")
    if top:
        # sculpted midsole top edge that rises toward the heel
        edge = (f"C {f(420)},{f(S - r - 2)} {f(360)},{f(S + 6)} {f(290)},{f(S + 4)} "
                f"C {f(210)},{f(S + 2)} {f(140)},{f(S - 6)} {f(62)},{f(S - 2)}")
    else:
        edge = f"L {f(62)},{f(S - 2)}"
    return (f"M {f(62)},{f(S - 2)} C {f(50)},{f(S + 10)} {f(58)},{f(G - 4)} {f(88)},{f(G)} "
            f"L {f(506)},{f(G)} C {f(532)},{f(G)} {f(548)},{f(G - 8)} {f(548)},{f(S - r + 8)} "
            f"C {f(548)},{f(S - r)} {f(544)},{f(S - r - 2)} {f(536)},{f(S - r - 2)} {edge} Z")


def accent_svg(sh, c):
    s = sh.s
    kind = s.get("accent")
    col = c["accent"]
    P = sh.path
    out = []
    if kind == "sweep":
        # a smooth tapered band rising toward the heel, blunt at both ends
        d = P("M", (180, 14), "C", (260, 22), (360, 52), (462, 114),
              "C", (470, 119), (477, 110), (470, 104),
              "C", (390, 44), (290, -4), (190, -8),
              "C", (172, -8), (168, 12), (180, 14), "Z")
        out.append(f'<path d="{d}" fill="{col}" stroke="{c["line"]}" stroke-width="1.5"/>')
    elif kind == "stripes":
        for i in range(3):
            x = 226 + i * 30
            h = 98 + (x - 200) * 64 / 98 + 10
            d = P("M", (x, h), "L", (x + 16, h + 8),
                  "L", (x + 76, -2), "L", (x + 58, -2), "Z")
            out.append(f'<path d="{d}" fill="{col}"/>')
    elif kind == "formstrip":
        d = P("M", (214, 4), "C", (300, 14), (400, 60), (476, 118),
              "C", (482, 122), (488, 116), (482, 110),
              "C", (420, 50), (330, 2), (228, -24),
              "C", (204, -28), (196, 2), (214, 4), "Z")
        out.append(f'<path d="{d}" fill="{col}" stroke="{c["line"]}" stroke-width="1.5"/>')
    elif kind == "wave":
        d = P("M", (250, 10), "C", (290, 40), (320, 90), (338, 128),
              "Q", (344, 138), (356, 136), "L", (372, 134), "Q", (382, 132), (378, 122),
              "C", (358, 80), (340, 40), (320, 8), "Q", (312, -4), (298, -4),
              "L", (262, -2), "Q", (246, 0), (250, 10), "Z")
        out.append(f'<path d="{d}" fill="{col}" stroke="{c["line"]}" stroke-width="1.5"/>')
    elif kind == "layers":
        for (x0, h0, x1, h1, w) in ((196, 6, 446, 140, 12), (232, -6, 476, 112, 7), (262, -14, 500, 84, 4)):
            d = P("M", (x0, h0), "C", ((x0 + x1) / 2, h0 + 6), (x1 - 50, (h0 + h1) / 2 + 10), (x1, h1))
            out.append(f'<path d="{d}" fill="none" stroke="{c["line"]}" stroke-width="{w + 2}" '
                       'stroke-linecap="round" opacity=".25"/>')
            out.append(f'<path d="{d}" fill="none" stroke="{col}" stroke-width="{w}" stroke-linecap="round"/>')
    elif kind == "chevron":
        for i in range(3):
            d = P("M", (214 + i * 40, 10), "L", (290 + i * 40, 70 + i * 8), "L", (350 + i * 40, 22))
            out.append(f'<path d="{d}" fill="none" stroke="{col}" stroke-width="6" '
                       'stroke-linejoin="round" stroke-linecap="round"/>')
    return "".join(out)


def overlays_svg(sh, c):
    """Overlay panels (clipped to the upper)."""
    P = sh.path
    ov = sh.s.get("overlays", ())
    out = []
    stroke = f'stroke="{c["line"]}" stroke-width="1.5"'
    if "mudguard" in ov:
        d = P("M", (20, -20), "L", (20, 90), "L", (126, 90),
              "C", (150, 60), (160, 40), (210, 34),
              "L", (430, 34), "C", (470, 34), (470, -20), (470, -20), "Z")
        out.append(f'<path d="{d}" fill="{c["mud"]}" {stroke}/>')
        out.append(f'<path d="{d}" fill="none" stroke="{c["line"]}" stroke-width="1" '
                   'stroke-dasharray="4 3" opacity=".4" transform="translate(3 5)"/>')
    if "toe" in ov:
        d = P("M", (20, -20), "L", (20, 90), "L", (118, 90),
              "C", (150, 60), (150, 20), (160, -20), "Z")
        out.append(f'<path d="{d}" fill="{c["toe"]}" {stroke}/>')
    if "ttoe" in ov:  # T-toe overlay of indoor trainers
        d = P("M", (20, -20), "L", (20, 90), "L", (214, 90), "L", (214, 72),
              "C", (170, 60), (140, 40), (136, 20), "C", (132, 0), (140, -12), (144, -20), "Z")
        out.append(f'<path d="{d}" fill="{c["toe"]}" {stroke}/>')
    if "eyestay" in ov:
        a, b = eyestay(sh)
        d_ = unit(a, b)
        n_in = (-d_[1], d_[0])  # pointing down/back into the upper
        q = [off(a, d_, -30), off(b, d_, 40), off(off(b, d_, 30), n_in, 34), off(off(a, d_, -30), n_in, 30)]
        d = "M " + " L ".join(pt(p) for p in q) + " Z"
        out.append(f'<path d="{d}" fill="{c["eyestay"]}" {stroke}/>')
    if "wing" in ov and sh.s.get("high"):
        d = P("M", (330, 320), "L", (330, 240), "C", (350, 180), (400, 140), (476, 130),
              "L", (600, 124), "L", (600, 320), "Z")
        out.append(f'<path d="{d}" fill="{c["wing"]}" {stroke}/>')
    if "heel" in ov:
        d = P("M", (432, -20), "C", (440, 30), (452, 80), (472, 120),
              "C", (484, 140), (500, 160), (520, 200), "L", (600, 200), "L", (600, -20), "Z")
        out.append(f'<path d="{d}" fill="{c["heel"]}" {stroke}/>')
    if "collar" in ov:
        if sh.s.get("high"):
            d = P("M", (290, 320), "L", (300, 236), "C", (360, 248), (430, 252), (500, 246),
                  "L", (600, 246), "L", (600, 320), "Z")
        else:
            d = P("M", (290, 230), "L", (290, 148), "C", (340, 130), (440, 128), (530, 160),
                  "L", (530, 230), "Z")
        out.append(f'<path d="{d}" fill="{c["collar"]}" {stroke}/>')
    if "perf" in ov:
        for i in range(3):
            for j in range(4 - i):
                x, y = sh.P(84 + j * 12 + i * 6, 30 + i * 10)
                out.append(f'<circle cx="{f(x)}" cy="{f(y)}" r="2" fill="{c["line"]}" opacity=".35"/>')
    return "".join(out)


def laces_svg(sh, c):
    a, b = eyestay(sh)
    d_ = unit(a, b)
    n_out = (d_[1], -d_[0])  # up/front, out of the silhouette
    n_in = (-n_out[0], -n_out[1])
    count = 7 if sh.s.get("high") else 5
    out = []
    speed = sh.s.get("speed_laces")
    for i in range(count):
        t = (i + 0.6) / (count + 0.2)
        e = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
        lo = off(off(e, n_in, 12), d_, -3)
        hi = off(off(e, n_out, 7), d_, 5)
        if speed:
            out.append(f'<path d="M {pt(lo)} L {pt(hi)}" stroke="{c["lace"]}" stroke-width="3" stroke-linecap="round"/>')
        else:
            out.append(f'<path d="M {pt(lo)} L {pt(hi)}" stroke="{c["line"]}" stroke-width="9" stroke-linecap="round" opacity=".35"/>')
            out.append(f'<path d="M {pt(lo)} L {pt(hi)}" stroke="{c["lace"]}" stroke-width="7" stroke-linecap="round"/>')
        ey = off(e, n_in, 13)
        out.append(f'<circle cx="{f(ey[0])}" cy="{f(ey[1])}" r="3.2" fill="{c["eyelet"]}"/>')
    if speed:  # lace lock / toggle
        p = off(off(b, n_out, 14), d_, 8)
        out.append(f'<rect x="{f(p[0] - 6)}" y="{f(p[1] - 9)}" width="12" height="18" rx="4" fill="{c["eyelet"]}"/>')
    return "".join(out)


def tongue_svg(sh, c):
    a, b = eyestay(sh)
    d_ = unit(a, b)
    n_out = (d_[1], -d_[0])
    n_in = (-n_out[0], -n_out[1])
    at = (a[0] + (b[0] - a[0]) * .2, a[1] + (b[1] - a[1]) * .2)
    p0 = off(at, n_out, 10)
    p1 = off(off(b, n_out, 18), d_, -10)
    c1 = off(off(b, n_out, 30), d_, -4)
    c2 = off(off(b, n_out, 30), d_, 16)
    p2 = off(off(b, n_out, 14), d_, 26)
    p3 = off(off(b, n_in, 30), d_, 21)
    d = f"M {pt(at)} L {pt(p0)} L {pt(p1)} C {pt(c1)} {pt(c2)} {pt(p2)} L {pt(p3)} Z"
    tag = off(off(b, n_out, 12), d_, 4)
    ang = math.degrees(math.atan2(d_[1], d_[0]))
    return (f'<path d="{d}" fill="{c["tongue"]}" stroke="{c["line"]}" stroke-width="2" stroke-linejoin="round"/>'
            f'<rect x="-9" y="-4" width="18" height="8" rx="2" fill="{c["tag"]}" '
            f'transform="translate({pt(tag)}) rotate({f(ang)})"/>')


def heel_tab_svg(sh, c):
    if sh.s.get("high"):
        x, y = sh.P(500, 262)
        d = f"M {f(x - 6)},{f(y - 6)} q 14,-6 20,4 l -4,30 q -8,2 -14,-4 Z"
    else:
        x, y = sh.P(504, 170)
        d = f"M {f(x - 8)},{f(y - 4)} q 18,-8 26,4 l -2,30 q -10,2 -18,-6 Z"
    return f'<path d="{d}" fill="{c["tab"]}" stroke="{c["line"]}" stroke-width="1.5" stroke-linejoin="round"/>'


def sole_details_svg(sh, c):
    S, G, r = sh.S, GROUND, sh.rise
    kind = sh.s.get("sole")
    out = []
    oh = sh.s.get("outsole_h", 9)
    out.append(f'<rect x="40" y="{f(G - oh)}" width="520" height="{f(oh + 4)}" fill="{c["outsole"]}" clip-path="url(#so)"/>')
    if kind in ("cup", "chunky", "slim"):
        y = S + (sh.sole_h - oh) * 0.45
        out.append(f'<path d="M 70,{f(y)} L 540,{f(y)}" stroke="{c["line"]}" stroke-width="1.5" '
                   f'stroke-dasharray="5 4" opacity=".35" clip-path="url(#so)"/>')
    if kind == "runner":
        d = (f"M 300,{f(G - oh)} C 360,{f(G - oh - 6)} 420,{f(S - r + 8)} 548,{f(S - r + 4)} "
             f"L 548,{f(G - oh)} Z")
        out.append(f'<path d="{d}" fill="{c["midsole2"]}" clip-path="url(#so)"/>')
    if kind == "trail":
        for i in range(13):
            x = 84 + i * 34
            out.append(f'<path d="M {x},{f(G - 2)} l 4,10 h 18 l 4,-10 Z" fill="{c["outsole"]}"/>')
        d = f"M 110,{f(S + 16)} C 200,{f(S + 8)} 320,{f(S + 22)} 530,{f(S - r + 12)}"
        out.append(f'<path d="{d}" fill="none" stroke="{c["midsole2"]}" stroke-width="5" stroke-linecap="round"/>')
    if sh.s.get("air"):
        y0, y1 = S - r + 8, G - oh - 5
        out.append(f'<rect x="414" y="{f(y0)}" width="84" height="{f(y1 - y0)}" rx="8" fill="{c["air"]}" '
                   f'stroke="{c["airline"]}" stroke-width="3"/>')
        for x in (438, 456, 474):
            out.append(f'<path d="M {x},{f(y0 + 4)} V {f(y1 - 4)}" stroke="{c["airline"]}" stroke-width="2" opacity=".6"/>')
    return "".join(out)


def shoe_svg(spec):
    c = dict(PALETTE_DEFAULTS)
    c.update(spec["colors"])
    sh = Shoe(spec)
    up = upper_path(sh)
    parts = []
    parts.append('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 400" '
                 f'role="img" aria-label="{spec["title"]}">')
    parts.append(f'<title>{spec["title"]}</title>')
    parts.append("<defs>")
    parts.append(f'<clipPath id="up"><path d="{up}"/></clipPath>')
    parts.append(f'<clipPath id="so"><path d="{sole_path(sh)}"/></clipPath>')
    parts.append('<linearGradient id="sh" x1="0" y1="0" x2="0" y2="1">'
                 '<stop offset="0" stop-color="#fff" stop-opacity=".22"/>'
                 '<stop offset=".55" stop-color="#fff" stop-opacity="0"/>'
                 '<stop offset="1" stop-color="#000" stop-opacity=".12"/></linearGradient>')
    parts.append('<radialGradient id="gs"><stop offset="0" stop-color="#000" stop-opacity=".22"/>'
                 '<stop offset="1" stop-color="#000" stop-opacity="0"/></radialGradient>')
    if spec.get("mesh"):
        parts.append('<pattern id="me" width="7" height="7" patternUnits="userSpaceOnUse">'
                     f'<circle cx="3.5" cy="3.5" r="1.3" fill="{c["line"]}" opacity=".22"/></pattern>')
    parts.append("</defs>")
    # ground shadow
    parts.append(f'<ellipse cx="305" cy="{GROUND + 8}" rx="270" ry="16" fill="url(#gs)"/>')
    tr = spec.get("transform")
    if tr:
        parts.append(f'<g transform="{tr}">')
    parts.append(tongue_svg(sh, c))
    parts.append(f'<path d="{up}" fill="{c["upper"]}"/>')
    if spec.get("mesh"):
        parts.append(f'<path d="{up}" fill="url(#me)"/>')
    parts.append('<g clip-path="url(#up)">')
    parts.append(overlays_svg(sh, c))
    shift = spec.get("accent_shift")
    if shift:
        parts.append(f'<g transform="translate({shift})">{accent_svg(sh, c)}</g>')
    else:
        parts.append(accent_svg(sh, c))
    hl = sh.path("M", (80, 40), "C", (96, 56), (120, 60), (150, 62))
    parts.append(f'<path d="{hl}" fill="none" stroke="#fff" stroke-width="4" stroke-linecap="round" opacity=".45"/>')
    parts.append(f'<path d="{up}" fill="url(#sh)"/>')
    parts.append("</g>")
    parts.append(f'<path d="{up}" fill="none" stroke="{c["line"]}" stroke-width="2.5" stroke-linejoin="round"/>')
    parts.append(heel_tab_svg(sh, c))
    parts.append(laces_svg(sh, c))
    parts.append(f'<path d="{sole_path(sh)}" fill="{c["midsole"]}"/>')
    parts.append(sole_details_svg(sh, c))
    parts.append(f'<path d="{sole_path(sh)}" fill="none" stroke="{c["line"]}" stroke-width="2.5" stroke-linejoin="round"/>')
    if tr:
        parts.append("</g>")
    parts.append("</svg>\n")
    return "".join(parts)


PALETTE_DEFAULTS = {
    "upper": "#f4f4f2", "line": "#2b2b2e", "accent": "#e63946", "mud": "#d9d9d9",
    "toe": "#d9d9d9", "eyestay": "#d9d9d9", "heel": "#d9d9d9", "wing": "#d9d9d9",
    "collar": "#d9d9d9", "tongue": "#f4f4f2", "tag": "#2b2b2e", "tab": "#2b2b2e",
    "lace": "#ffffff", "eyelet": "#9a9a9a", "midsole": "#fbfbf9", "midsole2": "#e4e4e4",
    "outsole": "#5d6066", "air": "#dde7ee", "airline": "#9aa6ae",
}

HIGH_TR = "translate(54 66) scale(.82)"

PRODUCTS = [
    ("nk-am90-infrared.svg", {
        "title": "Nike Air Max 90 Infrared", "sole": "runner", "sole_h": 40, "heel_rise": 10,
        "air": True, "accent": "sweep", "mesh": True,
        "overlays": ("mudguard", "toe", "heel", "eyestay"),
        "colors": {"upper": "#f3f3f1", "mud": "#b7bbc0", "toe": "#c9ccd0", "heel": "#b7bbc0",
                   "eyestay": "#e9e9e7", "accent": "#f23a4c", "tab": "#f23a4c", "tag": "#f23a4c",
                   "eyelet": "#f23a4c", "midsole2": "#f23a4c", "outsole": "#6b6f76",
                   "airline": "#f23a4c"}}),
    ("nk-dunk-panda.svg", {
        "title": "Nike Dunk Low Panda", "sole": "cup", "sole_h": 34, "accent": "sweep",
        "overlays": ("mudguard", "toe", "heel", "eyestay", "collar", "perf"),
        "colors": {"upper": "#fafaf8", "mud": "#1c1c1e", "toe": "#fafaf8", "heel": "#1c1c1e",
                   "eyestay": "#1c1c1e", "collar": "#1c1c1e", "accent": "#1c1c1e",
                   "tab": "#1c1c1e", "tag": "#1c1c1e", "eyelet": "#1c1c1e", "outsole": "#f1f1ef",
                   "line": "#1c1c1e"}}),
    ("ad-samba-og.svg", {
        "title": "adidas Samba OG Cloud White", "sole": "slim", "sole_h": 26, "k": .86,
        "accent": "stripes", "overlays": ("ttoe", "heel"), "outsole_h": 26,
        "colors": {"upper": "#f7f6f2", "toe": "#dedbd3", "heel": "#f7f6f2", "accent": "#161616",
                   "tab": "#161616", "tag": "#b8913e", "eyelet": "#f7f6f2", "outsole": "#c48a4c",
                   "midsole": "#c48a4c", "line": "#2a2522"}}),
    ("nb-550-green.svg", {
        "title": "New Balance 550 White Green", "sole": "chunky", "sole_h": 50,
        "accent": "wave", "overlays": ("mudguard", "toe", "heel", "perf"), "outsole_h": 12,
        "colors": {"upper": "#fbfbf9", "mud": "#ecece9", "toe": "#fbfbf9", "heel": "#1f6b45",
                   "accent": "#1f6b45", "tab": "#1f6b45", "tag": "#1f6b45", "eyelet": "#d0d0cc",
                   "outsole": "#d7d7d3", "line": "#263029"}}),
    ("as-kayano14.svg", {
        "title": "ASICS Gel-Kayano 14 Cream Pure Silver", "sole": "runner", "sole_h": 44,
        "heel_rise": 14, "accent": "layers", "mesh": True,
        "overlays": ("mudguard", "toe", "heel", "eyestay"),
        "colors": {"upper": "#efe8d8", "mud": "#c3c7cc", "toe": "#d7d9dc", "heel": "#b3b8be",
                   "eyestay": "#c3c7cc", "accent": "#9ea4ab", "tab": "#b3b8be", "tag": "#9ea4ab",
                   "eyelet": "#9ea4ab", "midsole": "#f1ead9", "midsole2": "#c3c7cc",
                   "outsole": "#8b9096", "lace": "#f6f0e2", "tongue": "#efe8d8", "line": "#3a3833"}}),
    ("pu-suede-red.svg", {
        "title": "Puma Suede Classic High Risk Red", "sole": "slim", "sole_h": 30, "k": .9,
        "accent": "formstrip", "overlays": ("heel",), "outsole_h": 10,
        "colors": {"upper": "#c8202f", "heel": "#b81c2a", "accent": "#fafaf8", "tab": "#b81c2a",
                   "tag": "#fafaf8", "tongue": "#c8202f", "lace": "#d93a48", "eyelet": "#8e1420",
                   "outsole": "#ecebe7", "line": "#4a0d14"}}),
    ("sa-xt6-black.svg", {
        "title": "Salomon XT-6 Black Phantom", "sole": "trail", "sole_h": 42, "heel_rise": 12,
        "accent": "chevron", "speed_laces": True, "mesh": True,
        "overlays": ("mudguard", "toe", "heel", "eyestay"), "outsole_h": 8,
        "colors": {"upper": "#26272a", "mud": "#1b1c1e", "toe": "#1b1c1e", "heel": "#1b1c1e",
                   "eyestay": "#303135", "accent": "#45474c", "tab": "#45474c", "tag": "#55575d",
                   "tongue": "#2e2f33", "lace": "#1a1a1a", "eyelet": "#4a4c52", "midsole": "#232427",
                   "midsole2": "#3a3c41", "outsole": "#141416", "line": "#5b5e64"}}),
    ("aj1-chicago.svg", {
        "title": "Air Jordan 1 High OG Chicago", "high": True, "sole": "cup", "sole_h": 36,
        "accent": "sweep", "transform": HIGH_TR, "accent_shift": "10 -34", "outsole_h": 12,
        "overlays": ("mudguard", "toe", "heel", "eyestay", "wing", "collar", "perf"),
        "colors": {"upper": "#fafaf8", "mud": "#c8102e", "toe": "#c8102e", "heel": "#c8102e",
                   "eyestay": "#c8102e", "wing": "#c8102e", "collar": "#151515", "accent": "#151515",
                   "tab": "#151515", "tag": "#c8102e", "eyelet": "#e9e9e7", "outsole": "#c8102e",
                   "line": "#1a1a1a"}}),
    ("nb-990v6-grey.svg", {
        "title": "New Balance 990v6 Grey", "sole": "runner", "sole_h": 46, "heel_rise": 14,
        "accent": "wave", "mesh": True, "overlays": ("mudguard", "toe", "heel", "eyestay"),
        "colors": {"upper": "#aeb1b5", "mud": "#8f9398", "toe": "#9a9ea3", "heel": "#8f9398",
                   "eyestay": "#9a9ea3", "accent": "#d8dadc", "tab": "#7b7f85", "tag": "#7b7f85",
                   "tongue": "#a3a6aa", "lace": "#c9cbce", "eyelet": "#6d7176",
                   "midsole": "#d3d4d6", "midsole2": "#bfc1c4", "outsole": "#55585d", "line": "#3c3f44"}}),
    ("ad-gazelle-blue.svg", {
        "title": "adidas Gazelle Indoor Blue Fusion", "sole": "slim", "sole_h": 28, "k": .88,
        "accent": "stripes", "overlays": ("ttoe", "heel"), "outsole_h": 28,
        "colors": {"upper": "#2f6fd8", "toe": "#2a64c6", "heel": "#2a64c6", "accent": "#fafaf8",
                   "tab": "#2a64c6", "tag": "#d7b25a", "tongue": "#2f6fd8", "lace": "#fafaf8",
                   "eyelet": "#1d4c9a", "outsole": "#c99458", "midsole": "#c99458", "line": "#15305e"}}),
]

FAVICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">\
<rect width="64" height="64" rx="14" fill="#111"/>\
<path d="M9 40c0-5 2-9 6-10 5-1 10-3 14-7l5-5c2 4 6 6 11 6 5 1 9 4 10 9v3H9z" fill="#fff"/>\
<path d="M9 43h46v3c0 2-1 3-3 3H12c-2 0-3-1-3-3z" fill="#ff4d2e"/>\
<path d="M27 27l4 3M31 24l4 3" stroke="#111" stroke-width="2" stroke-linecap="round"/>\
</svg>
"""


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, spec in PRODUCTS:
        svg = shoe_svg(spec)
        with open(os.path.join(OUT_DIR, name), "w", encoding="utf-8") as fh:
            fh.write(svg)
        print(f"{name}: {len(svg.encode())} bytes")
    with open(os.path.join(OUT_DIR, "favicon.svg"), "w", encoding="utf-8") as fh:
        fh.write(FAVICON)
    print("favicon.svg")


if __name__ == "__main__":
    main()
