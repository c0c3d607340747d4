#include "ventros/memory/text.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

namespace ventros::memory {
namespace {

using Strings = std::vector<std::string>;

bool Contains(const Strings& terms, const std::string& term) {
  return std::find(terms.begin(), terms.end(), term) != terms.end();
}

// ---------------------------------------------------------------------------------------------
// Fold

TEST_CASE("Fold: lower-cases and folds Portuguese accents", "[memory][text]") {
  CHECK(Fold("Não É") == "nao e");
  CHECK(Fold("AÇÃO ação Pão Coração") == "acao acao pao coracao");
  CHECK(Fold("àáâãäå ÀÁÂÃÄÅ èéêë ìíîï òóôõö ùúûü ñ ç ý ÿ") ==
        "aaaaaa aaaaaa eeee iiii ooooo uuuu n c y y");
  CHECK(Fold("Não") == Fold("nao"));
}

TEST_CASE("Fold: Latin-1 ligatures and Latin Extended-A", "[memory][text]") {
  CHECK(Fold("Straße Æsir Œuvre Ĳssel") == "strasse aesir oeuvre ijssel");
  CHECK(Fold("Łódź Škoda Čeština Ğüneş") == "lodz skoda cestina gunes");
  CHECK(Fold("nº 5, 1ª vez") == "no 5, 1a vez");
}

TEST_CASE("Fold: keeps emoji and other scripts, drops combining accents", "[memory][text]") {
  CHECK(Fold("OK 👍 ❤️") == "ok 👍 ❤️");
  CHECK(Fold("Привет") == "Привет");    // only Latin is lower-cased
  CHECK(Fold("na\xCC\x83o") == "nao");  // "não" typed decomposed (NFD)
  CHECK(Fold("a\xC2\xA0"
             "b") == "a b");  // no-break space
}

TEST_CASE("Fold: drops invalid UTF-8 bytes", "[memory][text]") {
  CHECK(Fold("a\xFF\xFE"
             "b") == "ab");
  CHECK(Fold("caf\xC3") == "caf");        // truncated sequence
  CHECK(Fold("x\xC0\xAFy") == "xy");      // overlong '/'
  CHECK(Fold("x\xED\xA0\x80y") == "xy");  // UTF-16 surrogate
  CHECK(Fold("\xC3\xA9\x80"
             "e") == "ee");  // stray continuation byte
  CHECK(Fold("").empty());
}

// ---------------------------------------------------------------------------------------------
// Words

TEST_CASE("Words: splits on anything but letters and digits", "[memory][text]") {
  CHECK(Words("Erro 500, tente de novo!") == Strings{"erro", "500", "tente", "de", "novo"});
  CHECK(Words("olá👋mundo...fim") == Strings{"ola", "mundo", "fim"});
  CHECK(Words("joao@gmail.com") == Strings{"joao", "gmail", "com"});
  CHECK(Words("don't") == Strings{"don", "t"});
  CHECK(Words("").empty());
  CHECK(Words(" ?! 👍 ").empty());
}

TEST_CASE("Words: numbers keep their thousands and lose a zero fraction", "[memory][text]") {
  CHECK(Words("R$5.000,00") == Strings{"r", "5000"});
  CHECK(Words("R$5000") == Strings{"r", "5000"});
  CHECK(Words("R$ 5.000") == Strings{"r", "5000"});
  CHECK(Words("1.000.000 de reais") == Strings{"1000000", "de", "reais"});
  CHECK(Words("custa 49,90") == Strings{"custa", "49", "90"});
  CHECK(Words("1.500,50") == Strings{"1500", "50"});
  CHECK(Words("versão 2.5") == Strings{"versao", "2", "5"});
  CHECK(Words("fim. 500") == Strings{"fim", "500"});
}

TEST_CASE("Words: hyphens join codes and single letters, split compounds", "[memory][text]") {
  CHECK(Words("E-404") == Strings{"e404"});
  CHECK(Words("SKU-12345-B") == Strings{"sku12345b"});
  CHECK(Words("e-mail") == Strings{"email"});
  CHECK(Words("ligue 99999-8888") == Strings{"ligue", "999998888"});
  CHECK(Words("segunda-feira") == Strings{"segunda", "feira"});
  CHECK(Words("fim -- 404") == Strings{"fim", "404"});
}

// ---------------------------------------------------------------------------------------------
// Terms

TEST_CASE("Terms: cancelar and cancelamento, caro and caro meet", "[memory][text]") {
  const Strings query = Terms("cancelar caro");
  const Strings doc = Terms("quero o cancelamento, está muito caro");
  REQUIRE(query.size() == 2);
  CHECK(Contains(doc, query[0]));
  CHECK(Contains(doc, query[1]));
  CHECK(Terms("cancelei")[0] == query[0]);
  CHECK(Terms("caros")[0] == query[1]);
}

TEST_CASE("Terms: accents and inflections do not matter", "[memory][text]") {
  CHECK(Terms("Não gostei") == Terms("nao gostei"));
  CHECK(Terms("reclamação") == Terms("reclamacao"));
  CHECK(Terms("reclamações") == Terms("reclamacao"));
  CHECK(Terms("RECLAMAR") == Terms("reclamacao"));
  CHECK(Terms("informações") == Terms("informacao"));
  CHECK(Terms("pagamentos atrasados") == Terms("pagamento atrasado"));
  CHECK(Terms("erros") == Terms("erro"));
  CHECK(Terms("problemas") == Terms("problema"));
}

TEST_CASE("Terms: English words use the English stemmer", "[memory][text]") {
  CHECK(Terms("cancelled orders") == Terms("cancel order"));
  CHECK(Terms("refunds") == Terms("refund"));
  CHECK(Terms("shipping") == Terms("shipped"));
  CHECK(Terms("payments") == Terms("payment"));
  CHECK(Terms("I want to cancel my subscription").size() == 3);  // want, cancel, subscription
}

TEST_CASE("Terms: a word gives the same term in a short query and a long text", "[memory][text]") {
  const std::string text =
      "Olá, boa tarde! The delivery was late and I was charged twice. Quero o reembolso dos "
      "pagamentos, por favor, e o cancelamento da assinatura.";
  const Strings terms = Terms(text);
  for (const char* word : {"pagamentos", "cancelamento", "delivery", "charged", "reembolso"}) {
    const Strings one = Terms(word);
    REQUIRE(one.size() == 1);
    CHECK(Contains(terms, one[0]));
  }
}

TEST_CASE("Terms: stop words are dropped, in both languages, negations too", "[memory][text]") {
  CHECK(Terms("o de a para com que eu você isso").empty());
  CHECK(Terms("the and of is to you it this").empty());
  CHECK(Terms("não nao not nunca never").empty());
  CHECK(Terms("x y z").empty());  // single letters
  CHECK(Terms("").empty());
  CHECK(Terms("!!! 😀").empty());
  CHECK(Terms("o boleto").size() == 1);
}

TEST_CASE("Terms: greetings are not topics", "[memory][text]") {
  CHECK(Terms("Bom dia! Quero cancelar") == Terms("quero cancelar"));
  CHECK(Terms("boa tarde, boa noite, good morning").empty());
  CHECK(Terms("produto bom").size() == 2);
  CHECK(Terms("bom") == Terms("bom"));
  CHECK(Terms("muito bom").size() == 1);
}

TEST_CASE("Terms: numbers and codes survive", "[memory][text]") {
  CHECK(Contains(Terms("deu erro 500"), "500"));
  CHECK(Terms("E-404") == Strings{"e404"});
  CHECK(Terms("R$5.000,00") == Strings{"5000"});
  CHECK(Contains(Terms("pedido SKU-12345 chegou"), "sku12345"));
  CHECK(Contains(Terms("iPhone 13"), "13"));
  CHECK(Terms("5") == Strings{"5"});  // a digit alone is kept, a letter alone is not
}

TEST_CASE("TermText: the terms joined by single spaces", "[memory][text]") {
  const std::string text = "Quero o cancelamento, está muito caro! Erro 500.";
  const Strings terms = Terms(text);
  std::string joined;
  for (const std::string& t : terms) joined += (joined.empty() ? "" : " ") + t;
  CHECK(TermText(text) == joined);
  CHECK(TermText("") == "");
  CHECK(TermText("o a de") == "");
}

TEST_CASE("AnalyzeTerms: gives each folded word with its term", "[memory][text]") {
  Strings words;
  Strings terms;
  AnalyzeTerms("Cancelamento, SEM reclamação!", [&](std::string_view w, std::string_view t) {
    words.emplace_back(w);
    terms.emplace_back(t);
  });
  CHECK(words == Strings{"cancelamento", "reclamacao"});
  CHECK(terms == Terms("Cancelamento, SEM reclamação!"));
}

TEST_CASE("AnalyzeTerms: a sink may analyse another text", "[memory][text]") {
  Strings inner;
  AnalyzeTerms("cancelar plano", [&](std::string_view, std::string_view) {
    inner.push_back(TermText("pagamentos atrasados"));
  });
  CHECK(inner == Strings{TermText("pagamento atrasado"), TermText("pagamento atrasado")});
}

TEST_CASE("Terms: the same on every thread", "[memory][text]") {
  const std::string text = "Cancelamento do pedido E-404, refunds, reclamações e pagamentos";
  const Strings expected = Terms(text);
  std::vector<Strings> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) {
    threads.emplace_back([&r, &text] {
      for (int i = 0; i < 200; ++i) r = Terms(text);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) CHECK(r == expected);
}

// ---------------------------------------------------------------------------------------------
// Sentiment

TEST_CASE("Sentiment: signs of Portuguese and English messages", "[memory][sentiment]") {
  struct Example {
    const char* text;
    int sign;
  };
  const Example examples[] = {
      {"Adorei o atendimento, muito obrigado!", 1},
      {"Produto excelente, chegou rápido", 1},
      {"Tudo resolvido, perfeito 👍", 1},
      {"ótimo", 1},
      {"Parabéns pelo serviço, recomendo", 1},
      {"Péssimo atendimento, quero cancelar", -1},
      {"Está muito caro", -1},
      {"não gostei", -1},
      {"O app nunca funciona", -1},
      {"que absurdo, já é a terceira reclamação 😡", -1},
      {"demora demais", -1},
      {"deu erro no app, horrível", -1},
      {"não recomendo", -1},
      {"sem problemas", 1},
      {"O produto é bom mas a entrega demorou muito", -1},
      {"Great service, thanks!", 1},
      {"I love it", 1},
      {"not good", -1},
      {"not bad", 1},
      {"terrible, the app is broken", -1},
      {"too expensive, I want to cancel", -1},
      {"I have no problem with it", 1},
      {"Qual o horário de funcionamento?", 0},
      {"Bom dia, meu pedido é o 12345", 0},
      {"Pode me enviar o boleto?", 0},
      {"what time do you open?", 0},
      {"", 0},
  };
  for (const Example& e : examples) {
    INFO(e.text);
    const double s = Sentiment(e.text);
    CHECK(s >= -1.0);
    CHECK(s <= 1.0);
    if (e.sign > 0) CHECK(s > 0.05);
    if (e.sign < 0) CHECK(s < -0.05);
    if (e.sign == 0) CHECK(s == 0.0);
  }
}

TEST_CASE("Sentiment: intensifiers and diminishers scale, negation flips", "[memory][sentiment]") {
  CHECK(Sentiment("muito caro") < Sentiment("caro"));
  CHECK(Sentiment("caro demais") < Sentiment("caro"));
  CHECK(Sentiment("um pouco caro") > Sentiment("caro"));
  CHECK(Sentiment("um pouco caro") < 0);
  CHECK(Sentiment("very good") > Sentiment("good"));
  CHECK(Sentiment("extremely bad") < Sentiment("bad"));
  CHECK(Sentiment("gostei") > 0);
  CHECK(Sentiment("não gostei") < 0);
  CHECK(Sentiment("não é muito bom") < 0);
  // A clause boundary ends the negation: this is a polite no, then thanks.
  CHECK(Sentiment("não, obrigado") > 0);
  // "no" negates in English; in Portuguese it means "in the" and must not flip "horrível".
  CHECK(Sentiment("this is no good") < 0);
  CHECK(Sentiment("deu erro no app horrível") < 0);
}

TEST_CASE("Sentiment: emoji, emoticons and exclamation marks", "[memory][sentiment]") {
  CHECK(Sentiment("😀") > 0);
  CHECK(Sentiment("🙂") > 0);
  CHECK(Sentiment("👍") > 0);
  CHECK(Sentiment("❤️") > 0);
  CHECK(Sentiment("😡") < 0);
  CHECK(Sentiment("😠") < 0);
  CHECK(Sentiment("👎") < 0);
  CHECK(Sentiment("😞") < 0);
  CHECK(Sentiment("valeu :)") > Sentiment("valeu"));
  CHECK(Sentiment(":(") < 0);
  CHECK(Sentiment("ótimo!!!") > Sentiment("ótimo"));
  CHECK(Sentiment("péssimo!!!") < Sentiment("péssimo"));
  CHECK(Sentiment("!!!") == 0.0);
}

TEST_CASE("Sentiment: stays inside [-1, 1] for extreme texts", "[memory][sentiment]") {
  std::string positive;
  std::string negative;
  for (int i = 0; i < 200; ++i) {
    positive += "excelente maravilhoso perfeito 😍 ";
    negative += "péssimo horrível lixo 🤬 ";
  }
  CHECK(Sentiment(positive) <= 1.0);
  CHECK(Sentiment(positive) > 0.99);
  CHECK(Sentiment(negative) >= -1.0);
  CHECK(Sentiment(negative) < -0.99);
  CHECK(Sentiment("\xFF\xFE garbage \xC3") == 0.0);
  // Regression: an emoticon's first character at the very end was read past the text.
  CHECK(Sentiment(":") == 0.0);
  CHECK(Sentiment("ótimo =") > 0);
  CHECK(Sentiment("ruim :'") < 0);
}

}  // namespace
}  // namespace ventros::memory
