"""The labels of the insights pages in the demo clusters' languages: English, Japanese (Maniwa),
Thai (Chachoengsao), Vietnamese (An Giang) and Tamil (Hosur).

These are the team's own translations, not a professional's: native speakers' review is
welcome (keep them short and plain; a page is read on a phone). A label missing from a
language falls back to English. ``{...}`` placeholders are filled by the page (the thresholds
come from ``backend.insights.network``, so a changed threshold changes every language); each
translation keeps the English placeholders (tests/insights/test_pages.py checks it).

Not here: ISIC activity titles stay English (the UN publishes the classification's other
languages separately; we ship the English one), and material names come from the catalogue's
``local_names``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

ENGLISH = "en"

# The languages a page can be shown in, each named in itself (the language switcher).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "ja": "日本語",
    "th": "ไทย",
    "vi": "Tiếng Việt",
    "ta": "தமிழ்",
}

_EN: dict[str, str] = {
    "other": "Other",
    "site": "Eco-industrial clusters",
    "insights": "Cluster insights",
    "comparison_title": "Clusters compared",
    "comparison_intro": (
        "The policy brief's Table 1, computed from completed trades: every cluster over the "
        "same calendar days in its own time zone, as the public sees it."
    ),
    "all_clusters": "All clusters",
    "cluster": "Cluster",
    "period": "Period",
    "from": "From",
    "to": "To",
    "show": "Show",
    "language": "Language",
    "time_zone": "Calendar days in the time zone {zone}.",
    "sector": "Sector",
    "country": "Country",
    "summary": "Outcomes",
    "totals_intro": (
        "Completed trades in the period, as NISP reports outcomes: landfill diversion, carbon, "
        "cost savings and additional sales."
    ),
    "diverted_kg": "Diverted from disposal",
    "co2e_avoided": "CO₂e avoided",
    "disposal_cost_avoided": "Disposal cost avoided",
    "paid_to_suppliers": "Paid to suppliers",
    "trades": "Completed trades",
    "organisations_trading": "Organisations trading",
    "method_versions": "Impact method versions",
    "none": "none",
    "total": "Total",
    "network": "Inter-firm network",
    "network_intro": (
        "Organisations are the nodes; two organisations that completed a trade with each "
        "other are linked."
    ),
    "network_type": "Network type",
    "type_WEAK_COMPLETENESS": "Weak completeness",
    "type_ANCHOR_TENANT_MUTUALISM": "Anchor-tenant mutualism",
    "type_EQUALITY_ORIENTED_MUTUALISM": "Equality-oriented mutualism",
    "type_TOO_SMALL": "Too small to type",
    "explain_WEAK_COMPLETENESS": (
        "Sparse: few organisations trade with each other (density below {density}), or the "
        "network is in pieces (its largest connected part holds less than {connected} of the "
        "organisations)."
    ),
    "explain_ANCHOR_TENANT_MUTUALISM": (
        "Members depend on a core member: degree centralisation is {anchor} or more."
    ),
    "explain_EQUALITY_ORIENTED_MUTUALISM": (
        "Members play equal roles along diverse paths: connected, with no member at the centre."
    ),
    "explain_TOO_SMALL": "Fewer than 3 organisations traded in the period.",
    "type_source": (
        "Types after Zhang et al. (2016), “Network analysis of eight industrial symbiosis "
        "systems”, Frontiers of Earth Science 10(2); the thresholds are ours."
    ),
    "fig_organisations": "Organisations that traded",
    "def_organisations": (
        "Organisations with at least one completed trade in the period, as supplier or taker."
    ),
    "fig_links": "Links",
    "def_links": "Pairs of organisations that completed at least one trade with each other.",
    "fig_density": "Density",
    "def_density": "Links divided by all possible pairs: 2L / (n(n−1)).",
    "fig_centralisation": "Degree centralisation (Freeman)",
    "def_centralisation": (
        "0 when every organisation has as many partners as the others, 1 for a star around "
        "one organisation."
    ),
    "fig_bilateral_share": "Bilateral share",
    "def_bilateral_share": "Share of organisations with exactly one partner.",
    "fig_multilateral_share": "Multilateral share",
    "def_multilateral_share": "Share of organisations with three partners or more.",
    "fig_horizontal_links": "Horizontal links",
    "def_horizontal_links": "Links between organisations of the same activity (ISIC class).",
    "fig_vertical_links": "Vertical links",
    "def_vertical_links": "Links between organisations of different activities.",
    "fig_links_of_unknown_activity": "Links of unknown activity",
    "def_links_of_unknown_activity": "Links where an organisation has not given its activity.",
    "fig_repeat_links": "Repeat partnerships",
    "def_repeat_links": "Links with two trades or more.",
    "fig_largest_component_share": "Largest connected part",
    "def_largest_component_share": (
        "Share of organisations in the largest group linked directly or through others."
    ),
    "fig_dependent_suppliers": "Dependent suppliers",
    "def_dependent_suppliers": (
        "Suppliers that send more than {dependence} of their by-products to a single taker."
    ),
    "fig_isolated_members": "Isolated members",
    "def_isolated_members": "Firms and communities without a completed trade in the period.",
    "network_suppressed": (
        "Fewer than 3 organisations traded in the period: the network's figures are not shown."
    ),
    "members": "Members",
    "members_total": "Member organisations",
    "firms": "Firms",
    "communities": "Communities",
    "institutions": "Institutions",
    "members_at_start": "At the start of the period",
    "members_joined": "Joined during the period",
    "growth": "Growth",
    "growth_none": "no members at the start",
    "flows": "Material flows between activities",
    "flows_intro": (
        "Kilograms of each material from the supplier's activity to the taker's activity "
        "(ISIC Rev. 4 classes)."
    ),
    "flows_none": "No flows to show in this period.",
    "from_activity": "From activity",
    "to_activity": "To activity",
    "material": "Material",
    "materials_legend": "Materials",
    "activity_unknown": "Activity not given",
    "other_flows": "Other flows (each between fewer than 3 organisations), merged",
    "months": "Month by month",
    "month": "Month",
    "unmatched": "Unmatched by-products",
    "unmatched_intro": (
        "Active offers listed {days} days ago or more without a single offer, by material."
    ),
    "unmatched_none": "No unmatched offers.",
    "listings": "Listings",
    "organisations_col": "Organisations",
    "available_kg": "Available",
    "without_mass": "Listings in units without mass",
    "other_materials": "Other materials (each offered by fewer than 3 organisations), merged",
    "social": "Social capital and knowledge",
    "social_intro": (
        "Joint purchasing, knowledge-transfer events and forums in the period: the trust "
        "and knowledge a cluster builds besides trading."
    ),
    "savings_title": "Joint purchasing",
    "direction": "Direction",
    "direction_BUY": "Bought together",
    "direction_SELL": "Sold together",
    "currency": "Currency",
    "groups": "Groups",
    "at_single_buyer_price": "At one buyer's price",
    "at_group_price": "At the group's price",
    "saved": "Saved (gained, when selling)",
    "savings_none": "No joint purchase was ordered in the period.",
    "attendance_title": "Event attendance by kind of organisation",
    "kind": "Registered for",
    "kind_FIRM": "Firms",
    "kind_COMMUNITY": "Communities",
    "kind_INSTITUTION": "Institutions",
    "kind_NONE": "No organisation",
    "registrations": "Registrations",
    "seats": "Seats",
    "people": "People",
    "events": "Events",
    "attendance_none": "Nobody registered for the period's events.",
    "events_title": "Knowledge-transfer events held",
    "events_total": "Events held",
    "held_FIRM": "Organised by firms",
    "held_COMMUNITY": "Organised by communities",
    "held_INSTITUTION": "Organised by institutions",
    "forums_title": "Forum activity across organisations",
    "forum_forums": "Forums written in",
    "forum_threads": "Threads started",
    "forum_posts": "Replies",
    "forum_organisations": "Organisations that wrote",
    "forum_across": "Threads written in by two organisations or more",
    "forum_FIRM": "Firms that wrote",
    "forum_COMMUNITY": "Communities that wrote",
    "forum_INSTITUTION": "Institutions that wrote",
    "forums_suppressed": (
        "Fewer than 3 organisations wrote in the cluster's forums in the period: no "
        "figures are shown."
    ),
    "table_joint-purchasing": "Joint purchasing",
    "table_attendance": "Event attendance",
    "table_events": "Events held",
    "table_forums": "Forum activity",
    "privacy": "What this page does not show",
    "privacy_text": (
        "Trade relationships are commercially sensitive. This public page shows aggregates "
        "only and no organisation's name. A figure built from fewer than 3 organisations reads "
        "“fewer than 3 organisations”; flows and materials of fewer than 3 organisations are "
        "merged into an “other” row, left out when even that row has fewer than 3."
    ),
    "privacy_named": (
        "Verified institutions of the cluster and platform admins download the named tables "
        "(anchors, dependent suppliers, isolated members) with their access token."
    ),
    "downloads": "Downloads (CSV)",
    "named_only": "with names: verified institutions and admins only",
    "suppressed": "fewer than 3 organisations",
    "isic_note": (
        "Activities are classes of ISIC Rev. 4 (United Nations); their titles are in English, "
        "as the UN publishes the other languages separately."
    ),
    "growth_row": "Growth in member organisations",
    "main_eco_activities": "Main eco-activities (largest flows)",
    "key_benefits": "Key benefits",
    "open_page": "Open the cluster's page",
    "not_found_title": "Not found",
    "not_found": "There is no cluster at this address.",
    "bad_request_title": "Not a valid request",
    "throttled_title": "Too many requests: try again shortly",
    "table_network": "Network figures",
    "table_flows": "Flows",
    "table_months": "Month by month",
    "table_unmatched-materials": "Unmatched materials",
    "table_anchors": "Anchors",
    "table_dependences": "Dependent suppliers",
    "table_isolated": "Isolated members",
    "table_comparison": "Clusters compared",
    "sector_SERICULTURE": "Sericulture (silk)",
    "sector_WOOD": "Wood",
    "sector_RICE": "Rice",
    "sector_FISH": "Fish",
    "sector_AGRICULTURE": "Agriculture",
    "sector_FOOD_PROCESSING": "Food processing",
    "sector_TEXTILES": "Textiles",
    "sector_OTHER": "Other",
}

_JA: dict[str, str] = {
    "other": "その他",
    "site": "エコ産業クラスター",
    "insights": "クラスター分析",
    "comparison_title": "クラスターの比較",
    "comparison_intro": (
        "政策ブリーフの表1を、完了した取引から算出したものです。各クラスターを現地時間の同じ暦日で"
        "集計し、一般公開の範囲で示します。"
    ),
    "all_clusters": "すべてのクラスター",
    "cluster": "クラスター",
    "period": "期間",
    "from": "開始日",
    "to": "終了日",
    "show": "表示",
    "language": "言語",
    "time_zone": "日付はタイムゾーン {zone} の暦日です。",
    "sector": "業種",
    "country": "国",
    "summary": "成果",
    "totals_intro": (
        "期間中に完了した取引の成果（NISP方式：埋立回避、炭素、コスト削減、追加売上）。"
    ),
    "diverted_kg": "廃棄を回避した量",
    "co2e_avoided": "回避したCO₂e",
    "disposal_cost_avoided": "回避した処分費用",
    "paid_to_suppliers": "供給者への支払額",
    "trades": "完了した取引",
    "organisations_trading": "取引した組織",
    "method_versions": "影響算定方法のバージョン",
    "none": "なし",
    "total": "合計",
    "network": "企業間ネットワーク",
    "network_intro": "組織をノードとし、互いに取引を完了した2つの組織を結びます。",
    "network_type": "ネットワークの型",
    "type_WEAK_COMPLETENESS": "弱い完全性",
    "type_ANCHOR_TENANT_MUTUALISM": "アンカーテナント型の相利共生",
    "type_EQUALITY_ORIENTED_MUTUALISM": "対等型の相利共生",
    "type_TOO_SMALL": "小さすぎて分類できません",
    "explain_WEAK_COMPLETENESS": (
        "まばらなネットワーク：互いに取引する組織が少ない（密度が{density}未満）か、"
        "分断されている（最大の連結部分に属する組織が{connected}未満）。"
    ),
    "explain_ANCHOR_TENANT_MUTUALISM": (
        "メンバーが中核となる組織に依存しています：次数中心化が{anchor}以上。"
    ),
    "explain_EQUALITY_ORIENTED_MUTUALISM": (
        "メンバーが多様な経路で対等な役割を果たしています：つながっていて、中心に立つ組織がありません。"
    ),
    "explain_TOO_SMALL": "期間中に取引した組織が3未満です。",
    "type_source": (
        "型の分類は Zhang ほか (2016)「Network analysis of eight industrial symbiosis "
        "systems」Frontiers of Earth Science 10(2) によります。"
        "閾値は本プラットフォームが定めました。"
    ),
    "fig_organisations": "取引した組織",
    "def_organisations": "期間中に供給者または引取者として取引を1件以上完了した組織。",
    "fig_links": "リンク",
    "def_links": "互いに1件以上の取引を完了した組織の組。",
    "fig_density": "密度",
    "def_density": "リンク数をあり得るすべての組の数で割った値：2L / (n(n−1))。",
    "fig_centralisation": "次数中心化（Freeman）",
    "def_centralisation": (
        "すべての組織の取引相手の数が同じなら0、1つの組織を中心とする星形なら1。"
    ),
    "fig_bilateral_share": "二者間の割合",
    "def_bilateral_share": "取引相手がちょうど1つの組織の割合。",
    "fig_multilateral_share": "多者間の割合",
    "def_multilateral_share": "取引相手が3つ以上の組織の割合。",
    "fig_horizontal_links": "水平リンク",
    "def_horizontal_links": "同じ業種（ISICの細分類）の組織どうしのリンク。",
    "fig_vertical_links": "垂直リンク",
    "def_vertical_links": "異なる業種の組織どうしのリンク。",
    "fig_links_of_unknown_activity": "業種不明のリンク",
    "def_links_of_unknown_activity": "一方の組織が業種を登録していないリンク。",
    "fig_repeat_links": "継続的な取引関係",
    "def_repeat_links": "取引が2件以上あるリンク。",
    "fig_largest_component_share": "最大の連結部分",
    "def_largest_component_share": (
        "直接または他の組織を介してつながる最大のまとまりに属する組織の割合。"
    ),
    "fig_dependent_suppliers": "依存している供給者",
    "def_dependent_suppliers": "副産物の{dependence}超を1つの引取者に送っている供給者。",
    "fig_isolated_members": "孤立したメンバー",
    "def_isolated_members": "期間中に取引を完了していない企業と地域団体。",
    "network_suppressed": ("期間中に取引した組織が3未満のため、ネットワークの指標は表示しません。"),
    "members": "メンバー",
    "members_total": "メンバー組織",
    "firms": "企業",
    "communities": "地域団体",
    "institutions": "機関",
    "members_at_start": "期間の開始時",
    "members_joined": "期間中に加入",
    "growth": "増加率",
    "growth_none": "開始時のメンバーなし",
    "flows": "業種間のマテリアルフロー",
    "flows_intro": (
        "供給者の業種から引取者の業種へ流れた素材ごとの重量（kg、ISIC第4版の細分類）。"
    ),
    "flows_none": "この期間に表示できるフローはありません。",
    "from_activity": "供給元の業種",
    "to_activity": "引取先の業種",
    "material": "素材",
    "materials_legend": "素材",
    "activity_unknown": "業種未登録",
    "other_flows": "その他のフロー（それぞれ3組織未満）をまとめたもの",
    "months": "月別の推移",
    "month": "月",
    "unmatched": "引き取り手のない副産物",
    "unmatched_intro": "{days}日以上前に掲載され、まだ申し込みが1件もない出品（素材別）。",
    "unmatched_none": "引き取り手のない出品はありません。",
    "listings": "出品",
    "organisations_col": "組織",
    "available_kg": "残量",
    "without_mass": "重量以外の単位の出品",
    "other_materials": "その他の素材（それぞれ3組織未満）をまとめたもの",
    "social": "社会関係資本と知識",
    "social_intro": (
        "期間中の共同購入、技術移転のイベント、フォーラム："
        "取引のほかにクラスターが育てる信頼と知識。"
    ),
    "savings_title": "共同購入",
    "direction": "種類",
    "direction_BUY": "共同購入",
    "direction_SELL": "共同販売",
    "currency": "通貨",
    "groups": "グループ",
    "at_single_buyer_price": "単独で買う場合の価格",
    "at_group_price": "グループ価格",
    "saved": "節約額（販売では増収額）",
    "savings_none": "期間中に発注された共同購入はありません。",
    "attendance_title": "組織の種類別のイベント参加",
    "kind": "参加登録の所属",
    "kind_FIRM": "企業",
    "kind_COMMUNITY": "地域団体",
    "kind_INSTITUTION": "機関",
    "kind_NONE": "所属なし",
    "registrations": "参加登録",
    "seats": "席数",
    "people": "人数",
    "events": "イベント",
    "attendance_none": "期間中のイベントへの参加登録はありません。",
    "events_title": "開催された技術移転イベント",
    "events_total": "開催されたイベント",
    "held_FIRM": "企業の主催",
    "held_COMMUNITY": "地域団体の主催",
    "held_INSTITUTION": "機関の主催",
    "forums_title": "組織をまたぐフォーラムの活動",
    "forum_forums": "書き込みのあったフォーラム",
    "forum_threads": "新しいスレッド",
    "forum_posts": "返信",
    "forum_organisations": "書き込んだ組織",
    "forum_across": "2つ以上の組織が書き込んだスレッド",
    "forum_FIRM": "書き込んだ企業",
    "forum_COMMUNITY": "書き込んだ地域団体",
    "forum_INSTITUTION": "書き込んだ機関",
    "forums_suppressed": (
        "期間中にクラスターのフォーラムに書き込んだ組織が3未満のため、数値は表示しません。"
    ),
    "table_joint-purchasing": "共同購入",
    "table_attendance": "イベント参加",
    "table_events": "開催イベント",
    "table_forums": "フォーラムの活動",
    "privacy": "このページで示さないもの",
    "privacy_text": (
        "取引関係は商業上の機密です。この公開ページは集計値のみを示し、組織名は示しません。"
        "3組織未満から算出される数値は「3組織未満」と表示し、3組織未満のフローや素材は"
        "「その他」の行にまとめます（まとめても3組織未満なら表示しません）。"
    ),
    "privacy_named": (
        "クラスターの認証済み機関とプラットフォーム管理者は、アクセストークンを使って組織名入りの表"
        "（アンカー、依存している供給者、孤立したメンバー）をダウンロードできます。"
    ),
    "downloads": "ダウンロード（CSV）",
    "named_only": "組織名入り：認証済み機関と管理者のみ",
    "suppressed": "3組織未満",
    "isic_note": (
        "業種は国連の ISIC 第4版の細分類です。国連は他言語版を別に公表しているため、"
        "名称は英語で表示します。"
    ),
    "growth_row": "メンバー組織の増加",
    "main_eco_activities": "主なエコ活動（最大のフロー）",
    "key_benefits": "主な便益",
    "open_page": "クラスターのページを開く",
    "not_found_title": "見つかりません",
    "not_found": "このアドレスのクラスターはありません。",
    "bad_request_title": "無効なリクエスト",
    "throttled_title": "リクエストが多すぎます。しばらくしてからもう一度お試しください",
    "table_network": "ネットワーク指標",
    "table_flows": "フロー",
    "table_months": "月別",
    "table_unmatched-materials": "引き取り手のない素材",
    "table_anchors": "アンカー",
    "table_dependences": "依存している供給者",
    "table_isolated": "孤立したメンバー",
    "table_comparison": "クラスターの比較",
    "sector_SERICULTURE": "養蚕（絹）",
    "sector_WOOD": "木材",
    "sector_RICE": "米",
    "sector_FISH": "水産",
    "sector_AGRICULTURE": "農業",
    "sector_FOOD_PROCESSING": "食品加工",
    "sector_TEXTILES": "繊維",
    "sector_OTHER": "その他",
}

_TH: dict[str, str] = {
    "other": "อื่น ๆ",
    "site": "คลัสเตอร์อุตสาหกรรมเชิงนิเวศ",
    "insights": "ข้อมูลเชิงลึกของคลัสเตอร์",
    "comparison_title": "เปรียบเทียบคลัสเตอร์",
    "comparison_intro": (
        "ตารางที่ 1 ของเอกสารนโยบาย คำนวณจากการซื้อขายที่เสร็จสมบูรณ์ "
        "ทุกคลัสเตอร์ในช่วงวันเดียวกันตามเขตเวลาของตนเอง ในมุมมองสาธารณะ"
    ),
    "all_clusters": "คลัสเตอร์ทั้งหมด",
    "cluster": "คลัสเตอร์",
    "period": "ช่วงเวลา",
    "from": "ตั้งแต่",
    "to": "ถึง",
    "show": "แสดง",
    "language": "ภาษา",
    "time_zone": "วันที่ตามปฏิทินในเขตเวลา {zone}",
    "sector": "สาขา",
    "country": "ประเทศ",
    "summary": "ผลลัพธ์",
    "totals_intro": (
        "ผลของการซื้อขายที่เสร็จสมบูรณ์ในช่วงเวลานี้ แบบที่ NISP รายงาน: การลดการฝังกลบ "
        "คาร์บอน การประหยัดต้นทุน และยอดขายเพิ่มเติม"
    ),
    "diverted_kg": "ปริมาณที่ไม่ต้องกำจัดทิ้ง",
    "co2e_avoided": "CO₂e ที่หลีกเลี่ยงได้",
    "disposal_cost_avoided": "ค่ากำจัดที่ประหยัดได้",
    "paid_to_suppliers": "เงินที่จ่ายให้ผู้จัดหา",
    "trades": "การซื้อขายที่เสร็จสมบูรณ์",
    "organisations_trading": "องค์กรที่ซื้อขาย",
    "method_versions": "เวอร์ชันของวิธีคำนวณผลกระทบ",
    "none": "ไม่มี",
    "total": "รวม",
    "network": "เครือข่ายระหว่างบริษัท",
    "network_intro": "องค์กรคือจุด องค์กรสองแห่งที่ซื้อขายกันสำเร็จจะเชื่อมถึงกัน",
    "network_type": "ประเภทเครือข่าย",
    "type_WEAK_COMPLETENESS": "ความสมบูรณ์ต่ำ",
    "type_ANCHOR_TENANT_MUTUALISM": "การพึ่งพากันแบบมีองค์กรหลัก",
    "type_EQUALITY_ORIENTED_MUTUALISM": "การพึ่งพากันแบบเท่าเทียม",
    "type_TOO_SMALL": "เล็กเกินกว่าจะจัดประเภท",
    "explain_WEAK_COMPLETENESS": (
        "เครือข่ายเบาบาง: มีองค์กรซื้อขายกันน้อย (ความหนาแน่นต่ำกว่า {density}) "
        "หรือเครือข่ายแยกเป็นส่วน ๆ (ส่วนที่เชื่อมกันใหญ่ที่สุดมีองค์กรไม่ถึง {connected})"
    ),
    "explain_ANCHOR_TENANT_MUTUALISM": ("สมาชิกพึ่งพาองค์กรหลัก: การรวมศูนย์ตามดีกรีตั้งแต่ {anchor} ขึ้นไป"),
    "explain_EQUALITY_ORIENTED_MUTUALISM": (
        "สมาชิกมีบทบาทเท่าเทียมกันผ่านเส้นทางที่หลากหลาย: เชื่อมถึงกันและไม่มีองค์กรใดเป็นศูนย์กลาง"
    ),
    "explain_TOO_SMALL": "มีองค์กรซื้อขายในช่วงเวลานี้น้อยกว่า 3 แห่ง",
    "type_source": (
        "การจัดประเภทตาม Zhang et al. (2016) “Network analysis of eight industrial symbiosis "
        "systems” Frontiers of Earth Science 10(2) ส่วนเกณฑ์เป็นของแพลตฟอร์มนี้"
    ),
    "fig_organisations": "องค์กรที่ซื้อขาย",
    "def_organisations": ("องค์กรที่ซื้อขายสำเร็จอย่างน้อยหนึ่งครั้งในช่วงเวลานี้ ในฐานะผู้จัดหาหรือผู้รับ"),
    "fig_links": "การเชื่อมโยง",
    "def_links": "คู่ขององค์กรที่ซื้อขายกันสำเร็จอย่างน้อยหนึ่งครั้ง",
    "fig_density": "ความหนาแน่น",
    "def_density": "จำนวนการเชื่อมโยงหารด้วยจำนวนคู่ที่เป็นไปได้ทั้งหมด: 2L / (n(n−1))",
    "fig_centralisation": "การรวมศูนย์ตามดีกรี (Freeman)",
    "def_centralisation": ("เป็น 0 เมื่อทุกองค์กรมีคู่ค้าเท่ากัน และเป็น 1 เมื่อเป็นรูปดาวรอบองค์กรเดียว"),
    "fig_bilateral_share": "สัดส่วนแบบทวิภาคี",
    "def_bilateral_share": "สัดส่วนขององค์กรที่มีคู่ค้าเพียงรายเดียว",
    "fig_multilateral_share": "สัดส่วนแบบพหุภาคี",
    "def_multilateral_share": "สัดส่วนขององค์กรที่มีคู่ค้าตั้งแต่สามรายขึ้นไป",
    "fig_horizontal_links": "การเชื่อมโยงแนวนอน",
    "def_horizontal_links": "การเชื่อมโยงระหว่างองค์กรในกิจกรรมเดียวกัน (หมวดย่อย ISIC)",
    "fig_vertical_links": "การเชื่อมโยงแนวตั้ง",
    "def_vertical_links": "การเชื่อมโยงระหว่างองค์กรต่างกิจกรรมกัน",
    "fig_links_of_unknown_activity": "การเชื่อมโยงที่ไม่ทราบกิจกรรม",
    "def_links_of_unknown_activity": "การเชื่อมโยงที่องค์กรฝ่ายหนึ่งยังไม่ได้ระบุกิจกรรม",
    "fig_repeat_links": "ความร่วมมือต่อเนื่อง",
    "def_repeat_links": "การเชื่อมโยงที่มีการซื้อขายตั้งแต่สองครั้งขึ้นไป",
    "fig_largest_component_share": "ส่วนที่เชื่อมกันใหญ่ที่สุด",
    "def_largest_component_share": ("สัดส่วนขององค์กรในกลุ่มใหญ่ที่สุดที่เชื่อมถึงกันโดยตรงหรือผ่านองค์กรอื่น"),
    "fig_dependent_suppliers": "ผู้จัดหาที่พึ่งพาผู้รับรายเดียว",
    "def_dependent_suppliers": "ผู้จัดหาที่ส่งผลพลอยได้มากกว่า {dependence} ให้ผู้รับเพียงรายเดียว",
    "fig_isolated_members": "สมาชิกที่โดดเดี่ยว",
    "def_isolated_members": "บริษัทและชุมชนที่ไม่มีการซื้อขายสำเร็จในช่วงเวลานี้",
    "network_suppressed": ("มีองค์กรซื้อขายในช่วงเวลานี้น้อยกว่า 3 แห่ง จึงไม่แสดงตัวชี้วัดของเครือข่าย"),
    "members": "สมาชิก",
    "members_total": "องค์กรสมาชิก",
    "firms": "บริษัท",
    "communities": "ชุมชน",
    "institutions": "สถาบัน",
    "members_at_start": "ณ ต้นช่วงเวลา",
    "members_joined": "เข้าร่วมระหว่างช่วงเวลา",
    "growth": "การเติบโต",
    "growth_none": "ไม่มีสมาชิก ณ ต้นช่วงเวลา",
    "flows": "การไหลของวัสดุระหว่างกิจกรรม",
    "flows_intro": ("กิโลกรัมของวัสดุแต่ละชนิดจากกิจกรรมของผู้จัดหาไปยังกิจกรรมของผู้รับ (หมวดย่อย ISIC Rev. 4)"),
    "flows_none": "ไม่มีการไหลที่แสดงได้ในช่วงเวลานี้",
    "from_activity": "จากกิจกรรม",
    "to_activity": "ไปยังกิจกรรม",
    "material": "วัสดุ",
    "materials_legend": "วัสดุ",
    "activity_unknown": "ไม่ได้ระบุกิจกรรม",
    "other_flows": "การไหลอื่น ๆ (แต่ละรายการน้อยกว่า 3 องค์กร) รวมกัน",
    "months": "รายเดือน",
    "month": "เดือน",
    "unmatched": "ผลพลอยได้ที่ยังไม่มีผู้รับ",
    "unmatched_intro": ("ประกาศขายที่ยังเปิดอยู่ ลงไว้ {days} วันขึ้นไปและยังไม่มีข้อเสนอเลย แยกตามวัสดุ"),
    "unmatched_none": "ไม่มีประกาศที่ยังไม่มีผู้รับ",
    "listings": "ประกาศ",
    "organisations_col": "องค์กร",
    "available_kg": "คงเหลือ",
    "without_mass": "ประกาศที่ใช้หน่วยอื่นที่ไม่ใช่น้ำหนัก",
    "other_materials": "วัสดุอื่น ๆ (แต่ละชนิดน้อยกว่า 3 องค์กร) รวมกัน",
    "social": "ทุนทางสังคมและความรู้",
    "social_intro": (
        "การซื้อร่วม กิจกรรมถ่ายทอดความรู้ และฟอรัมในช่วงเวลานี้: "
        "ความไว้วางใจและความรู้ที่คลัสเตอร์สร้างนอกเหนือจากการซื้อขาย"
    ),
    "savings_title": "การซื้อร่วม",
    "direction": "ประเภท",
    "direction_BUY": "ซื้อร่วมกัน",
    "direction_SELL": "ขายร่วมกัน",
    "currency": "สกุลเงิน",
    "groups": "กลุ่ม",
    "at_single_buyer_price": "ราคาเมื่อซื้อรายเดียว",
    "at_group_price": "ราคากลุ่ม",
    "saved": "ประหยัดได้ (ได้เพิ่มเมื่อขาย)",
    "savings_none": "ไม่มีการซื้อร่วมที่สั่งซื้อในช่วงเวลานี้",
    "attendance_title": "การเข้าร่วมกิจกรรมตามประเภทองค์กร",
    "kind": "ลงทะเบียนในนามของ",
    "kind_FIRM": "บริษัท",
    "kind_COMMUNITY": "ชุมชน",
    "kind_INSTITUTION": "สถาบัน",
    "kind_NONE": "ไม่สังกัดองค์กร",
    "registrations": "การลงทะเบียน",
    "seats": "ที่นั่ง",
    "people": "จำนวนคน",
    "events": "กิจกรรม",
    "attendance_none": "ไม่มีผู้ลงทะเบียนกิจกรรมในช่วงเวลานี้",
    "events_title": "กิจกรรมถ่ายทอดความรู้ที่จัดขึ้น",
    "events_total": "กิจกรรมที่จัดขึ้น",
    "held_FIRM": "จัดโดยบริษัท",
    "held_COMMUNITY": "จัดโดยชุมชน",
    "held_INSTITUTION": "จัดโดยสถาบัน",
    "forums_title": "ความเคลื่อนไหวในฟอรัมระหว่างองค์กร",
    "forum_forums": "ฟอรัมที่มีการเขียน",
    "forum_threads": "กระทู้ใหม่",
    "forum_posts": "การตอบกลับ",
    "forum_organisations": "องค์กรที่เขียน",
    "forum_across": "กระทู้ที่มีองค์กรตั้งแต่สองแห่งขึ้นไปเขียน",
    "forum_FIRM": "บริษัทที่เขียน",
    "forum_COMMUNITY": "ชุมชนที่เขียน",
    "forum_INSTITUTION": "สถาบันที่เขียน",
    "forums_suppressed": ("มีองค์กรเขียนในฟอรัมของคลัสเตอร์ในช่วงเวลานี้น้อยกว่า 3 แห่ง จึงไม่แสดงตัวเลข"),
    "table_joint-purchasing": "การซื้อร่วม",
    "table_attendance": "การเข้าร่วมกิจกรรม",
    "table_events": "กิจกรรมที่จัดขึ้น",
    "table_forums": "ความเคลื่อนไหวในฟอรัม",
    "privacy": "สิ่งที่หน้านี้ไม่แสดง",
    "privacy_text": (
        "ความสัมพันธ์ทางการค้าเป็นข้อมูลอ่อนไหว หน้าสาธารณะนี้แสดงเฉพาะตัวเลขรวมและไม่แสดงชื่อองค์กร "
        "ตัวเลขที่คำนวณจากน้อยกว่า 3 องค์กรจะแสดงว่า “น้อยกว่า 3 องค์กร” "
        "การไหลและวัสดุที่มีน้อยกว่า 3 องค์กรจะรวมเป็นแถว “อื่น ๆ” "
        "และจะไม่แสดงหากรวมแล้วยังน้อยกว่า 3 องค์กร"
    ),
    "privacy_named": (
        "สถาบันที่ได้รับการยืนยันของคลัสเตอร์และผู้ดูแลแพลตฟอร์มดาวน์โหลดตารางที่มีชื่อองค์กร "
        "(องค์กรหลัก ผู้จัดหาที่พึ่งพา สมาชิกที่โดดเดี่ยว) ได้ด้วยโทเคนการเข้าถึงของตน"
    ),
    "downloads": "ดาวน์โหลด (CSV)",
    "named_only": "มีชื่อองค์กร: เฉพาะสถาบันที่ได้รับการยืนยันและผู้ดูแล",
    "suppressed": "น้อยกว่า 3 องค์กร",
    "isic_note": (
        "กิจกรรมคือหมวดย่อยของ ISIC Rev. 4 (สหประชาชาติ) ชื่อหมวดแสดงเป็นภาษาอังกฤษ "
        "เพราะสหประชาชาติเผยแพร่ฉบับภาษาอื่นแยกต่างหาก"
    ),
    "growth_row": "การเติบโตขององค์กรสมาชิก",
    "main_eco_activities": "กิจกรรมเชิงนิเวศหลัก (การไหลที่ใหญ่ที่สุด)",
    "key_benefits": "ประโยชน์หลัก",
    "open_page": "เปิดหน้าของคลัสเตอร์",
    "not_found_title": "ไม่พบ",
    "not_found": "ไม่มีคลัสเตอร์ที่ที่อยู่นี้",
    "bad_request_title": "คำขอไม่ถูกต้อง",
    "throttled_title": "มีคำขอมากเกินไป โปรดลองอีกครั้งในภายหลัง",
    "table_network": "ตัวชี้วัดเครือข่าย",
    "table_flows": "การไหล",
    "table_months": "รายเดือน",
    "table_unmatched-materials": "วัสดุที่ยังไม่มีผู้รับ",
    "table_anchors": "องค์กรหลัก",
    "table_dependences": "ผู้จัดหาที่พึ่งพา",
    "table_isolated": "สมาชิกที่โดดเดี่ยว",
    "table_comparison": "เปรียบเทียบคลัสเตอร์",
    "sector_SERICULTURE": "การเลี้ยงไหม",
    "sector_WOOD": "ไม้",
    "sector_RICE": "ข้าว",
    "sector_FISH": "ประมง",
    "sector_AGRICULTURE": "เกษตรกรรม",
    "sector_FOOD_PROCESSING": "การแปรรูปอาหาร",
    "sector_TEXTILES": "สิ่งทอ",
    "sector_OTHER": "อื่น ๆ",
}

_VI: dict[str, str] = {
    "other": "Khác",
    "site": "Cụm công nghiệp sinh thái",
    "insights": "Phân tích cụm",
    "comparison_title": "So sánh các cụm",
    "comparison_intro": (
        "Bảng 1 của bản tóm tắt chính sách, tính từ các giao dịch đã hoàn tất: mọi cụm trong "
        "cùng các ngày theo múi giờ của cụm, ở mức công khai."
    ),
    "all_clusters": "Tất cả các cụm",
    "cluster": "Cụm",
    "period": "Thời kỳ",
    "from": "Từ ngày",
    "to": "Đến ngày",
    "show": "Xem",
    "language": "Ngôn ngữ",
    "time_zone": "Ngày theo lịch của múi giờ {zone}.",
    "sector": "Ngành",
    "country": "Quốc gia",
    "summary": "Kết quả",
    "totals_intro": (
        "Kết quả của các giao dịch hoàn tất trong thời kỳ, theo cách NISP báo cáo: giảm chôn "
        "lấp, carbon, tiết kiệm chi phí và doanh thu thêm."
    ),
    "diverted_kg": "Lượng tránh phải thải bỏ",
    "co2e_avoided": "CO₂e tránh được",
    "disposal_cost_avoided": "Chi phí xử lý tránh được",
    "paid_to_suppliers": "Tiền trả cho bên cung cấp",
    "trades": "Giao dịch hoàn tất",
    "organisations_trading": "Tổ chức tham gia giao dịch",
    "method_versions": "Phiên bản phương pháp tính tác động",
    "none": "không có",
    "total": "Tổng",
    "network": "Mạng lưới liên doanh nghiệp",
    "network_intro": (
        "Mỗi tổ chức là một nút; hai tổ chức đã hoàn tất giao dịch với nhau thì được nối với nhau."
    ),
    "network_type": "Loại mạng lưới",
    "type_WEAK_COMPLETENESS": "Tính hoàn chỉnh yếu",
    "type_ANCHOR_TENANT_MUTUALISM": "Cộng sinh quanh doanh nghiệp neo",
    "type_EQUALITY_ORIENTED_MUTUALISM": "Cộng sinh bình đẳng",
    "type_TOO_SMALL": "Quá nhỏ để phân loại",
    "explain_WEAK_COMPLETENESS": (
        "Mạng thưa: ít tổ chức giao dịch với nhau (mật độ dưới {density}), hoặc mạng bị chia "
        "cắt (phần liên thông lớn nhất có chưa đến {connected} số tổ chức)."
    ),
    "explain_ANCHOR_TENANT_MUTUALISM": (
        "Các thành viên phụ thuộc vào một thành viên trung tâm: độ tập trung theo bậc từ "
        "{anchor} trở lên."
    ),
    "explain_EQUALITY_ORIENTED_MUTUALISM": (
        "Các thành viên có vai trò ngang nhau trên nhiều con đường: mạng liên thông và không "
        "có thành viên nào ở trung tâm."
    ),
    "explain_TOO_SMALL": "Có ít hơn 3 tổ chức giao dịch trong thời kỳ.",
    "type_source": (
        "Phân loại theo Zhang và cộng sự (2016), “Network analysis of eight industrial "
        "symbiosis systems”, Frontiers of Earth Science 10(2); các ngưỡng do nền tảng này đặt."
    ),
    "fig_organisations": "Tổ chức đã giao dịch",
    "def_organisations": (
        "Tổ chức có ít nhất một giao dịch hoàn tất trong thời kỳ, là bên cung cấp hoặc bên nhận."
    ),
    "fig_links": "Liên kết",
    "def_links": "Các cặp tổ chức đã hoàn tất ít nhất một giao dịch với nhau.",
    "fig_density": "Mật độ",
    "def_density": "Số liên kết chia cho số cặp có thể có: 2L / (n(n−1)).",
    "fig_centralisation": "Độ tập trung theo bậc (Freeman)",
    "def_centralisation": (
        "Bằng 0 khi mọi tổ chức có số đối tác như nhau, bằng 1 với hình sao quanh một tổ chức."
    ),
    "fig_bilateral_share": "Tỷ lệ song phương",
    "def_bilateral_share": "Tỷ lệ tổ chức có đúng một đối tác.",
    "fig_multilateral_share": "Tỷ lệ đa phương",
    "def_multilateral_share": "Tỷ lệ tổ chức có từ ba đối tác trở lên.",
    "fig_horizontal_links": "Liên kết ngang",
    "def_horizontal_links": "Liên kết giữa các tổ chức cùng hoạt động (cùng ngành ISIC).",
    "fig_vertical_links": "Liên kết dọc",
    "def_vertical_links": "Liên kết giữa các tổ chức khác hoạt động.",
    "fig_links_of_unknown_activity": "Liên kết chưa rõ hoạt động",
    "def_links_of_unknown_activity": "Liên kết mà một bên chưa khai báo hoạt động.",
    "fig_repeat_links": "Quan hệ đối tác lặp lại",
    "def_repeat_links": "Liên kết có từ hai giao dịch trở lên.",
    "fig_largest_component_share": "Phần liên thông lớn nhất",
    "def_largest_component_share": (
        "Tỷ lệ tổ chức thuộc nhóm lớn nhất được nối với nhau trực tiếp hoặc qua tổ chức khác."
    ),
    "fig_dependent_suppliers": "Bên cung cấp phụ thuộc",
    "def_dependent_suppliers": (
        "Bên cung cấp gửi hơn {dependence} phụ phẩm của mình cho một bên nhận duy nhất."
    ),
    "fig_isolated_members": "Thành viên bị cô lập",
    "def_isolated_members": "Doanh nghiệp và cộng đồng không có giao dịch hoàn tất trong thời kỳ.",
    "network_suppressed": (
        "Có ít hơn 3 tổ chức giao dịch trong thời kỳ: không hiển thị các chỉ số của mạng lưới."
    ),
    "members": "Thành viên",
    "members_total": "Tổ chức thành viên",
    "firms": "Doanh nghiệp",
    "communities": "Cộng đồng",
    "institutions": "Cơ quan, viện, trường",
    "members_at_start": "Đầu thời kỳ",
    "members_joined": "Gia nhập trong thời kỳ",
    "growth": "Mức tăng",
    "growth_none": "không có thành viên vào đầu thời kỳ",
    "flows": "Dòng vật liệu giữa các hoạt động",
    "flows_intro": (
        "Số kilôgam mỗi vật liệu đi từ hoạt động của bên cung cấp đến hoạt động của bên nhận "
        "(ngành ISIC Rev. 4)."
    ),
    "flows_none": "Không có dòng vật liệu nào để hiển thị trong thời kỳ này.",
    "from_activity": "Từ hoạt động",
    "to_activity": "Đến hoạt động",
    "material": "Vật liệu",
    "materials_legend": "Vật liệu",
    "activity_unknown": "Chưa khai báo hoạt động",
    "other_flows": "Các dòng khác (mỗi dòng ít hơn 3 tổ chức), gộp lại",
    "months": "Theo tháng",
    "month": "Tháng",
    "unmatched": "Phụ phẩm chưa có bên nhận",
    "unmatched_intro": (
        "Tin chào bán còn hiệu lực, đăng từ {days} ngày trước trở lên mà chưa có đề nghị nào, "
        "theo vật liệu."
    ),
    "unmatched_none": "Không có tin chào bán nào chưa có bên nhận.",
    "listings": "Tin đăng",
    "organisations_col": "Tổ chức",
    "available_kg": "Còn lại",
    "without_mass": "Tin đăng theo đơn vị không phải khối lượng",
    "other_materials": "Các vật liệu khác (mỗi loại ít hơn 3 tổ chức), gộp lại",
    "social": "Vốn xã hội và tri thức",
    "social_intro": (
        "Mua chung, sự kiện chuyển giao tri thức và diễn đàn trong thời kỳ: niềm tin và "
        "tri thức mà cụm xây dựng ngoài giao dịch."
    ),
    "savings_title": "Mua chung",
    "direction": "Hình thức",
    "direction_BUY": "Mua chung",
    "direction_SELL": "Bán chung",
    "currency": "Tiền tệ",
    "groups": "Nhóm",
    "at_single_buyer_price": "Theo giá một người mua",
    "at_group_price": "Theo giá nhóm",
    "saved": "Tiết kiệm được (thu thêm khi bán)",
    "savings_none": "Không có đơn mua chung nào được đặt trong thời kỳ.",
    "attendance_title": "Tham dự sự kiện theo loại tổ chức",
    "kind": "Đăng ký cho",
    "kind_FIRM": "Doanh nghiệp",
    "kind_COMMUNITY": "Cộng đồng",
    "kind_INSTITUTION": "Cơ quan, viện, trường",
    "kind_NONE": "Không thuộc tổ chức",
    "registrations": "Lượt đăng ký",
    "seats": "Chỗ",
    "people": "Số người",
    "events": "Sự kiện",
    "attendance_none": "Không ai đăng ký các sự kiện trong thời kỳ.",
    "events_title": "Sự kiện chuyển giao tri thức đã tổ chức",
    "events_total": "Sự kiện đã tổ chức",
    "held_FIRM": "Do doanh nghiệp tổ chức",
    "held_COMMUNITY": "Do cộng đồng tổ chức",
    "held_INSTITUTION": "Do cơ quan, viện, trường tổ chức",
    "forums_title": "Hoạt động diễn đàn giữa các tổ chức",
    "forum_forums": "Diễn đàn có bài viết",
    "forum_threads": "Chủ đề mới",
    "forum_posts": "Trả lời",
    "forum_organisations": "Tổ chức đã viết",
    "forum_across": "Chủ đề có từ hai tổ chức trở lên cùng viết",
    "forum_FIRM": "Doanh nghiệp đã viết",
    "forum_COMMUNITY": "Cộng đồng đã viết",
    "forum_INSTITUTION": "Cơ quan, viện, trường đã viết",
    "forums_suppressed": (
        "Có ít hơn 3 tổ chức viết trên các diễn đàn của cụm trong thời kỳ: không hiển thị số liệu."
    ),
    "table_joint-purchasing": "Mua chung",
    "table_attendance": "Tham dự sự kiện",
    "table_events": "Sự kiện đã tổ chức",
    "table_forums": "Hoạt động diễn đàn",
    "privacy": "Những gì trang này không hiển thị",
    "privacy_text": (
        "Quan hệ giao dịch là thông tin nhạy cảm về thương mại. Trang công khai này chỉ hiển "
        "thị số liệu tổng hợp, không có tên tổ chức. Số liệu tính từ ít hơn 3 tổ chức được ghi "
        "là “ít hơn 3 tổ chức”; dòng vật liệu và vật liệu của ít hơn 3 tổ chức được gộp vào "
        "hàng “khác”, hoặc bỏ qua nếu gộp lại vẫn ít hơn 3 tổ chức."
    ),
    "privacy_named": (
        "Các cơ quan đã được xác minh của cụm và quản trị viên nền tảng tải các bảng có tên tổ "
        "chức (tổ chức neo, bên cung cấp phụ thuộc, thành viên bị cô lập) bằng mã truy cập của "
        "mình."
    ),
    "downloads": "Tải xuống (CSV)",
    "named_only": "có tên tổ chức: chỉ cơ quan đã xác minh và quản trị viên",
    "suppressed": "ít hơn 3 tổ chức",
    "isic_note": (
        "Hoạt động là các ngành của ISIC Rev. 4 (Liên Hợp Quốc); tên ngành để bằng tiếng Anh "
        "vì Liên Hợp Quốc công bố các bản ngôn ngữ khác riêng."
    ),
    "growth_row": "Mức tăng tổ chức thành viên",
    "main_eco_activities": "Hoạt động sinh thái chính (các dòng lớn nhất)",
    "key_benefits": "Lợi ích chính",
    "open_page": "Mở trang của cụm",
    "not_found_title": "Không tìm thấy",
    "not_found": "Không có cụm nào ở địa chỉ này.",
    "bad_request_title": "Yêu cầu không hợp lệ",
    "throttled_title": "Quá nhiều yêu cầu, vui lòng thử lại sau",
    "table_network": "Chỉ số mạng lưới",
    "table_flows": "Dòng vật liệu",
    "table_months": "Theo tháng",
    "table_unmatched-materials": "Vật liệu chưa có bên nhận",
    "table_anchors": "Tổ chức neo",
    "table_dependences": "Bên cung cấp phụ thuộc",
    "table_isolated": "Thành viên bị cô lập",
    "table_comparison": "So sánh các cụm",
    "sector_SERICULTURE": "Nuôi tằm (tơ lụa)",
    "sector_WOOD": "Gỗ",
    "sector_RICE": "Lúa gạo",
    "sector_FISH": "Thủy sản",
    "sector_AGRICULTURE": "Nông nghiệp",
    "sector_FOOD_PROCESSING": "Chế biến thực phẩm",
    "sector_TEXTILES": "Dệt may",
    "sector_OTHER": "Khác",
}

_TA: dict[str, str] = {
    "other": "பிற",
    "site": "சூழல்-தொழில் கொத்துகள்",
    "insights": "கொத்து பகுப்பாய்வு",
    "comparison_title": "கொத்துகளின் ஒப்பீடு",
    "comparison_intro": (
        "கொள்கைச் சுருக்கத்தின் அட்டவணை 1, நிறைவடைந்த வர்த்தகங்களிலிருந்து கணக்கிடப்பட்டது: "
        "ஒவ்வொரு கொத்தும் தன் நேர மண்டலத்தில் அதே நாட்களுக்கு, பொதுமக்கள் பார்க்கும் அளவில்."
    ),
    "all_clusters": "அனைத்து கொத்துகள்",
    "cluster": "கொத்து",
    "period": "காலம்",
    "from": "தொடக்கம்",
    "to": "முடிவு",
    "show": "காட்டு",
    "language": "மொழி",
    "time_zone": "நாட்கள் {zone} நேர மண்டலத்தின் நாட்காட்டி நாட்கள்.",
    "sector": "துறை",
    "country": "நாடு",
    "summary": "விளைவுகள்",
    "totals_intro": (
        "இக்காலத்தில் நிறைவடைந்த வர்த்தகங்களின் விளைவுகள், NISP முறையில்: குப்பைக்கிடங்கு "
        "தவிர்ப்பு, கார்பன், செலவுச் சேமிப்பு, கூடுதல் விற்பனை."
    ),
    "diverted_kg": "அகற்றலிலிருந்து மீட்கப்பட்டது",
    "co2e_avoided": "தவிர்க்கப்பட்ட CO₂e",
    "disposal_cost_avoided": "தவிர்க்கப்பட்ட அகற்றல் செலவு",
    "paid_to_suppliers": "வழங்குநர்களுக்குச் செலுத்தியது",
    "trades": "நிறைவடைந்த வர்த்தகங்கள்",
    "organisations_trading": "வர்த்தகம் செய்த அமைப்புகள்",
    "method_versions": "தாக்கக் கணிப்பு முறையின் பதிப்புகள்",
    "none": "இல்லை",
    "total": "மொத்தம்",
    "network": "நிறுவனங்களுக்கிடையேயான வலைப்பின்னல்",
    "network_intro": (
        "அமைப்புகள் கணுக்கள்; ஒன்றோடொன்று வர்த்தகத்தை நிறைவு செய்த இரண்டு அமைப்புகள் இணைக்கப்படுகின்றன."
    ),
    "network_type": "வலைப்பின்னல் வகை",
    "type_WEAK_COMPLETENESS": "பலவீனமான முழுமை",
    "type_ANCHOR_TENANT_MUTUALISM": "மைய நிறுவனம் சார்ந்த பரஸ்பர நலன்",
    "type_EQUALITY_ORIENTED_MUTUALISM": "சமநிலையான பரஸ்பர நலன்",
    "type_TOO_SMALL": "வகைப்படுத்த மிகச் சிறியது",
    "explain_WEAK_COMPLETENESS": (
        "அடர்த்தி குறைவு: ஒன்றோடொன்று வர்த்தகம் செய்யும் அமைப்புகள் குறைவு (அடர்த்தி "
        "{density}-க்குக் கீழ்), அல்லது வலைப்பின்னல் துண்டுகளாக உள்ளது (மிகப்பெரிய இணைந்த "
        "பகுதியில் {connected}-க்கும் குறைவான அமைப்புகள்)."
    ),
    "explain_ANCHOR_TENANT_MUTUALISM": (
        "உறுப்பினர்கள் ஒரு மைய உறுப்பினரைச் சார்ந்துள்ளனர்: படிநிலை மையப்படுத்தல் {anchor} அல்லது அதற்கு மேல்."
    ),
    "explain_EQUALITY_ORIENTED_MUTUALISM": (
        "உறுப்பினர்கள் பல்வேறு வழிகளில் சமமான பங்கு வகிக்கின்றனர்: இணைந்துள்ளது, மையத்தில் எந்த உறுப்பினரும் இல்லை."
    ),
    "explain_TOO_SMALL": "இக்காலத்தில் 3-க்கும் குறைவான அமைப்புகளே வர்த்தகம் செய்தன.",
    "type_source": (
        "வகைகள் Zhang மற்றும் பலர் (2016), “Network analysis of eight industrial symbiosis "
        "systems”, Frontiers of Earth Science 10(2) அடிப்படையில்; வரம்புகள் இத்தளத்தினுடையவை."
    ),
    "fig_organisations": "வர்த்தகம் செய்த அமைப்புகள்",
    "def_organisations": (
        "இக்காலத்தில் வழங்குநராகவோ பெறுநராகவோ குறைந்தது ஒரு வர்த்தகத்தை நிறைவு செய்த அமைப்புகள்."
    ),
    "fig_links": "இணைப்புகள்",
    "def_links": "ஒன்றோடொன்று குறைந்தது ஒரு வர்த்தகத்தை நிறைவு செய்த அமைப்பு இணைகள்.",
    "fig_density": "அடர்த்தி",
    "def_density": "இணைப்புகளை சாத்தியமான அனைத்து இணைகளால் வகுத்தது: 2L / (n(n−1)).",
    "fig_centralisation": "படிநிலை மையப்படுத்தல் (Freeman)",
    "def_centralisation": (
        "எல்லா அமைப்புகளுக்கும் சம எண்ணிக்கையில் கூட்டாளிகள் இருந்தால் 0, ஒரு அமைப்பைச் "
        "சுற்றிய நட்சத்திர வடிவத்திற்கு 1."
    ),
    "fig_bilateral_share": "இருதரப்புப் பங்கு",
    "def_bilateral_share": "சரியாக ஒரு கூட்டாளி உள்ள அமைப்புகளின் பங்கு.",
    "fig_multilateral_share": "பலதரப்புப் பங்கு",
    "def_multilateral_share": "மூன்று அல்லது அதற்கு மேற்பட்ட கூட்டாளிகள் உள்ள அமைப்புகளின் பங்கு.",
    "fig_horizontal_links": "கிடைமட்ட இணைப்புகள்",
    "def_horizontal_links": "ஒரே தொழிலில் (ISIC வகுப்பு) உள்ள அமைப்புகளுக்கிடையேயான இணைப்புகள்.",
    "fig_vertical_links": "செங்குத்து இணைப்புகள்",
    "def_vertical_links": "வெவ்வேறு தொழில்களில் உள்ள அமைப்புகளுக்கிடையேயான இணைப்புகள்.",
    "fig_links_of_unknown_activity": "தொழில் தெரியாத இணைப்புகள்",
    "def_links_of_unknown_activity": "ஓர் அமைப்பு தன் தொழிலைக் குறிப்பிடாத இணைப்புகள்.",
    "fig_repeat_links": "தொடர் கூட்டாண்மைகள்",
    "def_repeat_links": "இரண்டு அல்லது அதற்கு மேற்பட்ட வர்த்தகங்கள் உள்ள இணைப்புகள்.",
    "fig_largest_component_share": "மிகப்பெரிய இணைந்த பகுதி",
    "def_largest_component_share": (
        "நேரடியாகவோ பிறர் வழியாகவோ இணைந்த மிகப்பெரிய குழுவில் உள்ள அமைப்புகளின் பங்கு."
    ),
    "fig_dependent_suppliers": "சார்ந்திருக்கும் வழங்குநர்கள்",
    "def_dependent_suppliers": (
        "தங்கள் உபபொருட்களில் {dependence}-க்கு மேல் ஒரே பெறுநருக்கு அனுப்பும் வழங்குநர்கள்."
    ),
    "fig_isolated_members": "தனித்த உறுப்பினர்கள்",
    "def_isolated_members": ("இக்காலத்தில் எந்த வர்த்தகத்தையும் நிறைவு செய்யாத நிறுவனங்களும் சமூகங்களும்."),
    "network_suppressed": (
        "இக்காலத்தில் 3-க்கும் குறைவான அமைப்புகளே வர்த்தகம் செய்ததால் வலைப்பின்னல் அளவீடுகள் காட்டப்படவில்லை."
    ),
    "members": "உறுப்பினர்கள்",
    "members_total": "உறுப்பினர் அமைப்புகள்",
    "firms": "தொழில் நிறுவனங்கள்",
    "communities": "சமூக அமைப்புகள்",
    "institutions": "கல்வி, அரசு அமைப்புகள்",
    "members_at_start": "காலத் தொடக்கத்தில்",
    "members_joined": "காலத்தின்போது சேர்ந்தவை",
    "growth": "வளர்ச்சி",
    "growth_none": "தொடக்கத்தில் உறுப்பினர்கள் இல்லை",
    "flows": "தொழில்களுக்கிடையேயான பொருள் ஓட்டங்கள்",
    "flows_intro": (
        "வழங்குநரின் தொழிலிலிருந்து பெறுநரின் தொழிலுக்குச் சென்ற ஒவ்வொரு பொருளின் கிலோகிராம் "
        "(ISIC Rev. 4 வகுப்புகள்)."
    ),
    "flows_none": "இக்காலத்தில் காட்டுவதற்கு ஓட்டங்கள் இல்லை.",
    "from_activity": "அனுப்பிய தொழில்",
    "to_activity": "பெற்ற தொழில்",
    "material": "பொருள்",
    "materials_legend": "பொருட்கள்",
    "activity_unknown": "தொழில் குறிப்பிடப்படவில்லை",
    "other_flows": "பிற ஓட்டங்கள் (ஒவ்வொன்றும் 3-க்கும் குறைவான அமைப்புகள்), ஒன்றாக",
    "months": "மாதவாரியாக",
    "month": "மாதம்",
    "unmatched": "பெறுநர் கிடைக்காத உபபொருட்கள்",
    "unmatched_intro": (
        "{days} நாட்களுக்கு முன்போ அதற்கும் முன்போ பட்டியலிடப்பட்டு இதுவரை ஒரு சலுகையும் "
        "பெறாத விற்பனைப் பட்டியல்கள், பொருள்வாரியாக."
    ),
    "unmatched_none": "பெறுநர் கிடைக்காத பட்டியல்கள் இல்லை.",
    "listings": "பட்டியல்கள்",
    "organisations_col": "அமைப்புகள்",
    "available_kg": "கிடைப்பது",
    "without_mass": "எடை அல்லாத அலகுகளில் உள்ள பட்டியல்கள்",
    "other_materials": "பிற பொருட்கள் (ஒவ்வொன்றும் 3-க்கும் குறைவான அமைப்புகள்), ஒன்றாக",
    "social": "சமூக மூலதனமும் அறிவும்",
    "social_intro": (
        "இக்காலத்தின் கூட்டுக் கொள்முதல், அறிவுப் பரிமாற்ற நிகழ்வுகள், மன்றங்கள்: "
        "வர்த்தகத்திற்கு அப்பால் கொத்து உருவாக்கும் நம்பிக்கையும் அறிவும்."
    ),
    "savings_title": "கூட்டுக் கொள்முதல்",
    "direction": "வகை",
    "direction_BUY": "கூட்டாக வாங்கியது",
    "direction_SELL": "கூட்டாக விற்றது",
    "currency": "நாணயம்",
    "groups": "குழுக்கள்",
    "at_single_buyer_price": "தனி வாங்குநர் விலையில்",
    "at_group_price": "குழு விலையில்",
    "saved": "சேமிப்பு (விற்பனையில் கூடுதல் வருவாய்)",
    "savings_none": "இக்காலத்தில் கூட்டுக் கொள்முதல் ஆணை எதுவும் இல்லை.",
    "attendance_title": "அமைப்பு வகைவாரியாக நிகழ்வுப் பங்கேற்பு",
    "kind": "பதிவு செய்தது",
    "kind_FIRM": "தொழில் நிறுவனங்கள்",
    "kind_COMMUNITY": "சமூக அமைப்புகள்",
    "kind_INSTITUTION": "கல்வி, அரசு அமைப்புகள்",
    "kind_NONE": "அமைப்பு இல்லாமல்",
    "registrations": "பதிவுகள்",
    "seats": "இருக்கைகள்",
    "people": "நபர்கள்",
    "events": "நிகழ்வுகள்",
    "attendance_none": "இக்கால நிகழ்வுகளுக்கு யாரும் பதிவு செய்யவில்லை.",
    "events_title": "நடத்தப்பட்ட அறிவுப் பரிமாற்ற நிகழ்வுகள்",
    "events_total": "நடத்தப்பட்ட நிகழ்வுகள்",
    "held_FIRM": "தொழில் நிறுவனங்கள் நடத்தியவை",
    "held_COMMUNITY": "சமூக அமைப்புகள் நடத்தியவை",
    "held_INSTITUTION": "கல்வி, அரசு அமைப்புகள் நடத்தியவை",
    "forums_title": "அமைப்புகளுக்கிடையேயான மன்றச் செயல்பாடு",
    "forum_forums": "எழுதப்பட்ட மன்றங்கள்",
    "forum_threads": "புதிய இழைகள்",
    "forum_posts": "பதில்கள்",
    "forum_organisations": "எழுதிய அமைப்புகள்",
    "forum_across": "இரண்டு அல்லது அதற்கு மேற்பட்ட அமைப்புகள் எழுதிய இழைகள்",
    "forum_FIRM": "எழுதிய தொழில் நிறுவனங்கள்",
    "forum_COMMUNITY": "எழுதிய சமூக அமைப்புகள்",
    "forum_INSTITUTION": "எழுதிய கல்வி, அரசு அமைப்புகள்",
    "forums_suppressed": (
        "இக்காலத்தில் கொத்தின் மன்றங்களில் 3-க்கும் குறைவான அமைப்புகளே எழுதியதால் எண்கள் காட்டப்படவில்லை."
    ),
    "table_joint-purchasing": "கூட்டுக் கொள்முதல்",
    "table_attendance": "நிகழ்வுப் பங்கேற்பு",
    "table_events": "நடத்தப்பட்ட நிகழ்வுகள்",
    "table_forums": "மன்றச் செயல்பாடு",
    "privacy": "இப்பக்கம் காட்டாதவை",
    "privacy_text": (
        "வர்த்தக உறவுகள் வணிக ரீதியாக உணர்திறன் மிக்கவை. இந்தப் பொதுப் பக்கம் மொத்த "
        "எண்ணிக்கைகளை மட்டுமே காட்டுகிறது, எந்த அமைப்பின் பெயரையும் காட்டாது. 3-க்கும் "
        "குறைவான அமைப்புகளிலிருந்து கணக்கிடப்படும் எண் “3-க்கும் குறைவான அமைப்புகள்” எனக் "
        "காட்டப்படும்; 3-க்கும் குறைவான அமைப்புகளின் ஓட்டங்களும் பொருட்களும் “பிற” வரிசையில் "
        "ஒன்றாக்கப்படும், அதுவும் 3-க்குக் குறைவாக இருந்தால் விடப்படும்."
    ),
    "privacy_named": (
        "கொத்தின் சரிபார்க்கப்பட்ட அமைப்புகளும் தள நிர்வாகிகளும் தங்கள் அணுகல் டோக்கனுடன் "
        "பெயர்கள் உள்ள அட்டவணைகளை (மைய அமைப்புகள், சார்ந்திருக்கும் வழங்குநர்கள், தனித்த "
        "உறுப்பினர்கள்) பதிவிறக்கலாம்."
    ),
    "downloads": "பதிவிறக்கங்கள் (CSV)",
    "named_only": "பெயர்களுடன்: சரிபார்க்கப்பட்ட அமைப்புகளும் நிர்வாகிகளும் மட்டும்",
    "suppressed": "3-க்கும் குறைவான அமைப்புகள்",
    "isic_note": (
        "தொழில்கள் ISIC Rev. 4 (ஐக்கிய நாடுகள்) வகுப்புகள்; ஐ.நா. பிற மொழிப் பதிப்புகளைத் "
        "தனியாக வெளியிடுவதால் அவற்றின் தலைப்புகள் ஆங்கிலத்தில் உள்ளன."
    ),
    "growth_row": "உறுப்பினர் அமைப்புகளின் வளர்ச்சி",
    "main_eco_activities": "முக்கிய சூழல் செயல்பாடுகள் (மிகப்பெரிய ஓட்டங்கள்)",
    "key_benefits": "முக்கிய நன்மைகள்",
    "open_page": "கொத்தின் பக்கத்தைத் திற",
    "not_found_title": "கிடைக்கவில்லை",
    "not_found": "இந்த முகவரியில் எந்தக் கொத்தும் இல்லை.",
    "bad_request_title": "செல்லாத கோரிக்கை",
    "throttled_title": "அதிகமான கோரிக்கைகள், சிறிது நேரம் கழித்து முயலவும்",
    "table_network": "வலைப்பின்னல் அளவீடுகள்",
    "table_flows": "ஓட்டங்கள்",
    "table_months": "மாதவாரியாக",
    "table_unmatched-materials": "பெறுநர் கிடைக்காத பொருட்கள்",
    "table_anchors": "மைய அமைப்புகள்",
    "table_dependences": "சார்ந்திருக்கும் வழங்குநர்கள்",
    "table_isolated": "தனித்த உறுப்பினர்கள்",
    "table_comparison": "கொத்துகளின் ஒப்பீடு",
    "sector_SERICULTURE": "பட்டு வளர்ப்பு",
    "sector_WOOD": "மரம்",
    "sector_RICE": "நெல்",
    "sector_FISH": "மீன்",
    "sector_AGRICULTURE": "வேளாண்மை",
    "sector_FOOD_PROCESSING": "உணவு பதப்படுத்துதல்",
    "sector_TEXTILES": "ஜவுளி",
    "sector_OTHER": "பிற",
}

TRANSLATIONS: dict[str, dict[str, str]] = {
    "en": _EN,
    "ja": _JA,
    "th": _TH,
    "vi": _VI,
    "ta": _TA,
}


class Labels(Mapping[str, str]):
    """A language's labels, each falling back to English; an unknown key is a KeyError (a
    template asking for a label nobody wrote fails its tests, not a reader's page)."""

    def __init__(self, language: str) -> None:
        self.language = language if language in TRANSLATIONS else ENGLISH
        self._own = TRANSLATIONS[self.language]

    def __getitem__(self, key: str) -> str:
        found = self._own.get(key)
        return found if found is not None else _EN[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_EN)

    def __len__(self) -> int:
        return len(_EN)


def language_for(requested: str | None, cluster_languages: Sequence[str] = ()) -> str:
    """The page's language: ``?lang=`` when we have it, else the cluster's first language we
    have (Hosur lists Tamil first), else English."""
    if requested is not None and requested in TRANSLATIONS:
        return requested
    for tag in cluster_languages:
        primary = tag.split("-")[0].lower()
        if primary in TRANSLATIONS:
            return primary
    return ENGLISH
