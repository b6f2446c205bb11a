"""Demo forums: one per demo community, with a few threads and replies in the clusters'
languages. Through the forums service with fixed ids: loading twice creates nothing new."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.auth.viewer import Role, Viewer
from backend.demo import ids
from backend.forums import service
from backend.forums.models import ForumVisibility
from backend.kit.broadcast import InProcessBroadcaster
from backend.kit.db import Database


@dataclass(frozen=True)
class DemoThread:
    author: str  # demo key
    title: str
    body: str
    language: str
    tags: tuple[str, ...]
    replies: tuple[tuple[str, str], ...]  # (demo key, body)


@dataclass(frozen=True)
class DemoForum:
    community: str
    title: str
    description: str
    visibility: ForumVisibility
    threads: tuple[DemoThread, ...]


FORUMS: tuple[DemoForum, ...] = (
    DemoForum(
        "biomass-town",
        "バイオマスタウン 交流広場",
        "真庭の製材所・ペレット工場・地域の皆さんの情報交換の場です。",
        ForumVisibility.CLUSTER,
        (
            DemoThread(
                "biomass-town",
                "冬の樹皮・チップの需給について",
                "今年の冬、ボイラー用の樹皮とチップは足りそうですか？在庫状況を共有しましょう。",
                "ja",
                ("bark", "チップ"),
                (
                    ("maniwa-lumber", "樹皮は毎週2トンほど出せます。乾燥が課題です。"),
                    ("katsuyama-pellets", "おがくずが不足気味です。引き取り可能です。"),
                ),
            ),
            DemoThread(
                "hokubo-boxes",
                "端材の引き取り先を探しています",
                "梱包箱の端材が月に10袋ほど出ます。どなたか使いませんか。",
                "ja",
                ("端材",),
                (("biomass-town", "猫砂の工場が興味を持っていました。つなぎます。"),),
            ),
        ),
    ),
    DemoForum(
        "bang-khla-coop",
        "สหกรณ์บางคล้า - ห้องพูดคุย",
        "พื้นที่แลกเปลี่ยนเรื่องฟางข้าว แกลบ และการขายร่วมกันของสมาชิก",
        ForumVisibility.PUBLIC,  # the demo's forum that readers without an account see
        (
            DemoThread(
                "bang-khla-coop",
                "ราคาฟางข้าวอัดก้อนฤดูนี้",
                "โรงเพาะเห็ดเสนอราคาเท่าไหร่กันบ้างครับ มาแชร์กัน",
                "th",
                ("ฟางข้าว", "ราคา"),
                (("bang-pakong-mill", "ที่บางปะกงได้ตันละ 900 บาท รับเองที่ไร่"),),
            ),
            DemoThread(
                "husk-power",
                "ขี้เถ้าแกลบสำหรับผสมปูน",
                "เรามีขี้เถ้าแกลบประมาณ 5 ตันต่อสัปดาห์ ใครสนใจทดลองใช้บ้าง",
                "th",
                ("rice-husk-ash",),
                (),
            ),
        ),
    ),
    DemoForum(
        "thalli-shg",
        "Thalli SHG members",
        "For the group's members: meetings, cocoon prices, joint purchases.",
        ForumVisibility.MEMBERS,
        (
            DemoThread(
                "thalli-shg",
                "மாதக் கூட்டம்: மவுண்டேஜ் ஆர்டர்",
                "பிளாஸ்டிக் மவுண்டேஜ் கூட்டு ஆர்டர் பற்றி பேசுவோம். எத்தனை தேவை?",
                "ta",
                ("mountages",),
                (),
            ),
        ),
    ),
    DemoForum(
        "my-hoa-hung-women",
        "Nhóm phụ nữ Mỹ Hòa Hưng",
        "Trao đổi về thức ăn cá, chất lượng nước ao và mua chung.",
        ForumVisibility.CLUSTER,
        (
            DemoThread(
                "my-hoa-hung-women",
                "Kinh nghiệm đo chất lượng nước ao",
                "Sau buổi hội thảo của trường, các chị đo pH và amoniac thế nào?",
                "vi",
                ("nước", "ao"),
                (
                    ("long-xuyen-pangasius", "Chúng tôi đo mỗi sáng, ghi vào sổ."),
                    ("my-hoa-hung-women", "Bộ test kit mua chung sẽ về tuần sau."),
                ),
            ),
        ),
    ),
)


def _viewer(user_id: uuid.UUID, organisation_id: uuid.UUID, role: Role) -> Viewer:
    return Viewer(
        user_id=user_id,
        role=role,
        organisation_id=organisation_id,
        token_id="demo-seed",  # noqa: S106 - not a secret: the seeder acts without a token
    )


async def seed_forums(
    db: Database,
    *,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, Role]],
    now: datetime,
) -> int:
    """``organisations``: demo key -> (user id, organisation id, role). Returns new forums."""
    broadcaster = InProcessBroadcaster()  # nobody listens while the demo loads
    created = 0
    moment = now - timedelta(days=3)
    for template in FORUMS:
        owner = _viewer(*organisations[template.community])
        forum_id = ids.forum_id(template.community)
        if await service.get_forum(db=db, viewer=owner, forum_id=forum_id):
            continue
        await service.create_forum(
            db=db,
            viewer=owner,
            now=moment,
            draft=service.ForumDraft(
                id=forum_id,
                title=template.title,
                description=template.description,
                visibility=template.visibility,
            ),
        )
        created += 1
        for thread in template.threads:
            moment += timedelta(hours=2)
            thread_id = ids.thread_id(template.community, thread.title)
            await service.create_thread(
                db=db,
                viewer=_viewer(*organisations[thread.author]),
                now=moment,
                draft=service.ThreadDraft(
                    id=thread_id,
                    forum_id=forum_id,
                    title=thread.title,
                    body=thread.body,
                    language=thread.language,
                    tags=list(thread.tags),
                ),
            )
            for index, (key, body) in enumerate(thread.replies):
                moment += timedelta(minutes=40)
                await service.create_post(
                    db=db,
                    viewer=_viewer(*organisations[key]),
                    broadcaster=broadcaster,
                    now=moment,
                    draft=service.PostDraft(
                        id=ids.post_id(thread_id, index),
                        thread_id=thread_id,
                        body=body,
                    ),
                )
    return created
