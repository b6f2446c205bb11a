from tests.conftest import GraphQL

ME = "query { me { user { email } organisation { name kind } role } }"


async def test_register_sign_in_and_me(gql: GraphQL, register, cluster_id: str) -> None:
    account = await register("tanaka@pellets.example", cluster_id)
    body = await gql(ME, token=account.access_token)
    assert body == {
        "data": {
            "me": {
                "user": {"email": "tanaka@pellets.example"},
                "organisation": {"name": "Katsuyama Pellet Works", "kind": "FIRM"},
                "role": "FIRM",
            }
        }
    }
