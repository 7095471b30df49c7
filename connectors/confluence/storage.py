"""The document's XHTML as Confluence storage format.

Storage format is XHTML with Confluence's own elements: pictures are
`<ac:image><ri:attachment ri:filename="..."/></ac:image>`. The document's body is converted
element by element: the elements storage format knows are kept (with the few attributes it
reads), page structure (`<article>`, `<section>`, `<figure>`...) is unwrapped, an `<img>` whose
`src` names one of the document's attachments becomes an attachment image, an absolute one a
URL image, and what Confluence cannot show (inline SVG, scripts) is left out. The result is
well-formed XML once wrapped in a root declaring the `ac` and `ri` namespaces. Characters
XML 1.0 forbids (control characters a recorded error message may carry) are dropped, and a
body that still cannot be converted is a VendorError that retrying would not fix.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import escape
from html.entities import name2codepoint

from replayhub.connector import Document, VendorError

AC = "http://atlassian.com/content"
RI = "http://atlassian.com/resource/identifier"
KEEP = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "s", "sub",
        "sup", "code", "pre", "blockquote", "ul", "ol", "li", "table", "thead", "tbody",
        "tfoot", "tr", "th", "td", "a", "br", "hr", "span", "del", "ins", "small"}
ATTRIBUTES = {"a": ("href", "title"), "th": ("colspan", "rowspan"),
              "td": ("colspan", "rowspan"), "ol": ("start",)}
AS_PARAGRAPH = {"figcaption", "caption"}
LEAVE_OUT = {"svg", "script", "style", "title", "head", "template", "iframe", "object"}
EMPTY = {"br", "hr"}
AMPERSAND = re.compile(r"&(#\d+;|#x[0-9a-fA-F]+;|(\w+);)?")
XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
PREFIX = re.compile(r"(?<=[<\s/])(ac|ri):")
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 does not allow in a document, not even as a reference."""


def xml_chars(value: str) -> str:
    """The text without the characters XML 1.0 forbids (C0 controls, lone surrogates...)."""
    return NOT_XML.sub("", value)


def _allowed(code: int) -> bool:
    return code < 0x110000 and not NOT_XML.match(chr(code))


def _entity(match: re.Match[str]) -> str:
    """`&nbsp;` and other HTML names as numeric references; a stray `&` as text."""
    whole, name = match.group(1), match.group(2)
    if whole is None:
        return "&amp;"
    if whole.startswith("#"):
        digits = whole[2:-1] if whole[1] in "xX" else whole[1:-1]
        return f"&{whole}" if _allowed(int(digits, 16 if whole[1] in "xX" else 10)) else ""
    if name is None or name in XML_ENTITIES:
        return f"&{whole}"
    code = name2codepoint.get(name)
    return f"&#{code};" if code else f"&amp;{whole}"


def parse_fragment(html: str) -> ET.Element:
    """The XHTML fragment under one <root> element (HTML entity names understood)."""
    return ET.fromstring(f"<root>{AMPERSAND.sub(_entity, xml_chars(html))}</root>")


def local(tag: str) -> str:
    """The element's name without its namespace ({http://www.w3.org/2000/svg}svg: svg)."""
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def text(value: str | None) -> str:
    return escape(xml_chars(value), quote=False) if value else ""


def attribute(value: str) -> str:
    return escape(xml_chars(value), quote=True)


class StorageWriter:
    """Writes one document's storage format; `attachments` are the file names it carries."""

    def __init__(self, attachments: set[str]) -> None:
        self.attachments = attachments
        self.parts: list[str] = []

    def write(self, element: ET.Element) -> None:
        """The element (converted), then its tail text."""
        tag = local(element.tag)
        if element.tag is ET.Comment or tag in LEAVE_OUT:
            pass
        elif tag == "img":
            self.image(element)
        elif tag == "a" and element.find(".//img") is not None:
            self.children(element)  # a picture cannot sit inside a link in storage format
        elif tag in KEEP:
            self.keep(tag, element)
        elif tag in AS_PARAGRAPH:
            self.parts.append("<p>")
            self.children(element)
            self.parts.append("</p>")
        else:
            self.children(element)  # article, section, header, figure, div, time...
        self.parts.append(text(element.tail))

    def children(self, element: ET.Element) -> None:
        self.parts.append(text(element.text))
        for child in element:
            self.write(child)

    def keep(self, tag: str, element: ET.Element) -> None:
        kept = "".join(f' {name}="{attribute(element.attrib[name])}"'
                       for name in ATTRIBUTES.get(tag, ()) if element.attrib.get(name))
        if tag in EMPTY:
            self.parts.append(f"<{tag}{kept}/>")
            return
        self.parts.append(f"<{tag}{kept}>")
        self.children(element)
        self.parts.append(f"</{tag}>")

    def image(self, element: ET.Element) -> None:
        source = element.attrib.get("src", "")
        if source in self.attachments:
            target = f'<ri:attachment ri:filename="{attribute(source)}"/>'
        elif source.startswith(("https://", "http://")):
            target = f'<ri:url ri:value="{attribute(source)}"/>'
        else:
            return  # a picture the document does not carry (its snapshot could not be made)
        options = "".join(f' ac:{name}="{attribute(element.attrib[name])}"'
                          for name in ("alt", "width", "title") if element.attrib.get(name))
        self.parts.append(f"<ac:image{options}>{target}</ac:image>")


def to_storage(html: str, attachments: set[str]) -> str:
    """The XHTML fragment as storage format, pictures pointing at these attachment names."""
    writer = StorageWriter(attachments)
    writer.children(parse_fragment(html))
    return "".join(writer.parts).strip()


def storage_body(document: Document) -> str:
    """The page's storage format: the document, then a footer line carrying its marker."""
    try:
        body = to_storage(document.html, {item.filename for item in document.attachments})
    except (ET.ParseError, ValueError) as error:
        raise VendorError(f"the post-mortem's HTML cannot be converted to Confluence storage "
                          f"format ({error}); a template in [postmortem] template_dir must "
                          f"write well-formed XHTML", retryable=False) from None
    if document.marker:
        body += (f"<hr/><p><sub>Published from ReplayHub. Edits made here are replaced when the "
                 f"post-mortem is published again; comment below instead. "
                 f"{text(document.marker)}</sub></p>")
    return body


def comment_body(body: str, marker: str) -> str:
    """A footer comment: the text paragraph by paragraph, then the marker line."""
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", body) if part.strip()]
    html = "".join(f"<p>{'<br/>'.join(text(line) for line in part.splitlines())}</p>"
                   for part in paragraphs) or "<p></p>"
    return html + (f"<p><sub>{text(marker)}</sub></p>" if marker else "")


def plain_text(storage: str) -> str:
    """What a storage-format body says, as text: one line per paragraph or line break."""
    try:
        root = parse_fragment(PREFIX.sub(r"\1_", storage))
    except ET.ParseError:
        return re.sub(r"<[^>]+>", "", storage).strip()
    lines: list[str] = []
    current: list[str] = []

    def walk(element: ET.Element) -> None:
        tag = local(element.tag)
        if tag in {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "br", "div"}:
            flush()
        current.append(element.text or "")
        for child in element:
            walk(child)
        if tag in {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "div"}:
            flush()
        current.append(element.tail or "")

    def flush() -> None:
        line = " ".join("".join(current).split())
        if line:
            lines.append(line)
        current.clear()

    walk(root)
    flush()
    return "\n".join(lines)
