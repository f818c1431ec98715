"""The catalogue item's fields as the pages show them: labels (zh/en), controls, choices, groups.

One list drives the item forms (rendered by the `item_form` macro) and, sent to the browser as
JSON, the labels of detail views, history diffs and the approval summaries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Choice = tuple[str, str, str]  # value, zh, en

KIND: tuple[Choice, ...] = (("drug", "药品", "Drug"), ("consumable", "耗材", "Consumable"))
REIMBURSEMENT: tuple[Choice, ...] = (
    ("甲", "甲类", "Class A"),
    ("乙", "乙类", "Class B"),
    ("丙", "丙类", "Class C"),
    ("none", "非医保", "Not covered"),
)
STORAGE: tuple[Choice, ...] = (
    ("ambient", "常温（10–30℃）", "Ambient (10–30 °C)"),
    ("cool", "阴凉（≤20℃）", "Cool (≤20 °C)"),
    ("cold", "冷藏（2–8℃）", "Refrigerated (2–8 °C)"),
    ("frozen", "冷冻", "Frozen"),
)
CONTROLLED: tuple[Choice, ...] = (
    ("none", "非管制", "Not controlled"),
    ("narcotic", "麻醉药品", "Narcotic"),
    ("psychotropic_1", "第一类精神药品", "Psychotropic, class I"),
    ("psychotropic_2", "第二类精神药品", "Psychotropic, class II"),
    ("toxic", "医疗用毒性药品", "Toxic"),
    ("radioactive", "放射性药品", "Radioactive"),
)
ANTIBIOTIC_TIER: tuple[Choice, ...] = (
    ("none", "非抗菌药物", "Not an antibiotic"),
    ("unrestricted", "非限制使用级", "Unrestricted"),
    ("restricted", "限制使用级", "Restricted"),
    ("special", "特殊使用级", "Special"),
)
LEVEL: tuple[Choice, ...] = (
    ("county_hospital", "县医院", "County hospital"),
    ("township", "乡镇卫生院", "Township centre"),
    ("village", "村卫生室", "Village clinic"),
)
DOSAGE_FORMS = ("片剂", "胶囊剂", "颗粒剂", "注射剂", "口服溶液剂", "糖浆剂", "丸剂", "散剂", "软膏剂", "乳膏剂",
                "滴眼剂", "气雾剂", "栓剂", "贴剂", "混悬剂")  # fmt: skip
UNITS = ("片", "粒", "袋", "支", "瓶", "丸", "贴", "枚", "ml", "g", "个", "套", "只", "卷", "盒", "板", "包", "箱")  # fmt: skip

GROUPS: tuple[Choice, ...] = (
    ("basic", "基本信息", "Basics"),
    ("packaging", "剂型、规格与包装", "Form, strength and packaging"),
    ("codes", "企业与编码", "Manufacturer and codes"),
    ("coverage", "基药、医保与集采", "Essential list, insurance and VBP"),
    ("control", "管理属性", "Controls"),
    ("logistics", "物流（配送装载用）", "Logistics (for loading)"),
)


@dataclass(frozen=True)
class Field:
    """One item field on a form."""

    name: str
    zh: str
    en: str
    group: str
    control: str = "text"  # text | number | select | checkbox
    required: bool = False
    choices: tuple[Choice, ...] = ()
    suggestions: tuple[str, ...] = ()
    hint_zh: str = ""
    hint_en: str = ""
    drug_only: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)


ITEM_FIELDS: tuple[Field, ...] = (
    Field("code", "编码", "Code", "basic", required=True,
          hint_zh="大写字母、数字、- 和 _，2–40 位", hint_en="Upper-case letters, digits, - and _; 2–40 characters",
          attrs={"maxlength": 40, "pattern": "[A-Z0-9][A-Z0-9_\\-]{1,39}", "spellcheck": "false", "autocomplete": "off"}),
    Field("kind", "类别", "Kind", "basic", control="select", required=True, choices=KIND),
    Field("generic_name", "通用名", "Generic name", "basic", required=True, attrs={"maxlength": 200}),
    Field("generic_name_en", "英文名", "English name", "basic", attrs={"maxlength": 200, "lang": "en"}),
    Field("trade_name", "商品名", "Trade name", "basic", attrs={"maxlength": 200}),
    Field("category", "药理分类", "Category", "basic", attrs={"maxlength": 120}),
    Field("dosage_form", "剂型", "Dosage form", "packaging", suggestions=DOSAGE_FORMS,
          hint_zh="药品必填", hint_en="Required for drugs", attrs={"maxlength": 60}),
    Field("strength", "规格", "Strength", "packaging", hint_zh="如 0.25g、10ml:400单位", hint_en="e.g. 0.25 g",
          attrs={"maxlength": 120}),
    Field("unit", "最小单位", "Dispensing unit", "packaging", required=True, suggestions=UNITS,
          hint_zh="库存与发药的计量单位，如 粒", hint_en="Stock is counted in it, e.g. capsule", attrs={"maxlength": 20}),
    Field("package_size", "包装数量", "Units per package", "packaging", control="number", required=True,
          attrs={"min": 1, "max": 100000, "step": 1, "inputmode": "numeric"}),
    Field("package_unit", "包装单位", "Package unit", "packaging", required=True, suggestions=UNITS,
          hint_zh="如 盒", hint_en="e.g. box", attrs={"maxlength": 20}),
    Field("manufacturer", "生产企业", "Manufacturer", "codes", attrs={"maxlength": 200}),
    Field("approval_no", "批准文号", "Approval number", "codes",
          hint_zh="如 国药准字H20003263", hint_en="e.g. 国药准字H20003263", attrs={"maxlength": 60}),
    Field("nhsa_code", "医保编码", "NHSA code", "codes",
          hint_zh="药品：X/Z 开头共 23 位；耗材：C 开头共 20 位", hint_en="Drugs: X or Z + 22; consumables: C + 19",
          attrs={"maxlength": 40, "spellcheck": "false", "autocomplete": "off"}),
    Field("atc_code", "ATC 编码", "ATC code", "codes", drug_only=True, hint_zh="如 J01CA04", hint_en="e.g. J01CA04",
          attrs={"maxlength": 7, "spellcheck": "false", "autocomplete": "off"}),
    Field("essential", "国家基本药物", "Essential medicine", "coverage", control="checkbox"),
    Field("reimbursement", "医保类别", "Insurance class", "coverage", control="select", choices=REIMBURSEMENT),
    Field("vbp", "集中带量采购", "Volume-based procurement", "coverage", control="checkbox"),
    Field("vbp_batch", "集采批次", "VBP batch", "coverage", hint_zh="集采品种必填，如 第三批",
          hint_en="Required for VBP items", attrs={"maxlength": 40}),
    Field("storage", "储存条件", "Storage", "control", control="select", choices=STORAGE),
    Field("controlled", "特殊管理", "Controlled class", "control", control="select", choices=CONTROLLED, drug_only=True),
    Field("antibiotic_tier", "抗菌药物分级", "Antibiotic tier", "control", control="select", choices=ANTIBIOTIC_TIER,
          drug_only=True),
    Field("high_alert", "高警示药品", "High-alert medication", "control", control="checkbox"),
    Field("volume_cm3", "包装体积（cm³）", "Package volume (cm³)", "logistics", control="number", required=True,
          hint_zh="一个包装单位", hint_en="One package", attrs={"min": 0.01, "step": "any", "inputmode": "decimal"}),
    Field("weight_g", "包装重量（g）", "Package weight (g)", "logistics", control="number", required=True,
          hint_zh="一个包装单位", hint_en="One package", attrs={"min": 0.01, "step": "any", "inputmode": "decimal"}),
)  # fmt: skip

# What a new item starts with (the API's own defaults).
DEFAULTS: dict[str, Any] = {
    "kind": "drug", "reimbursement": "none", "storage": "ambient", "controlled": "none", "antibiotic_tier": "none",
    "essential": False, "vbp": False, "high_alert": False,
}  # fmt: skip


def grouped(skip: tuple[str, ...] = ()) -> list[tuple[Choice, list[Field]]]:
    """The fields by group, in form order, leaving out `skip`."""
    return [(g, [f for f in ITEM_FIELDS if f.group == g[0] and f.name not in skip]) for g in GROUPS]


def spec_json() -> dict[str, Any]:
    """What the pages' scripts need: every field's labels and choices, and the other choice lists."""
    return {
        "fields": [asdict(f) for f in ITEM_FIELDS],
        "levels": LEVEL,
        "groups": GROUPS,
        "defaults": DEFAULTS,
    }
