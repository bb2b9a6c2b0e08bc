"""Classes every operation shares, learned from these example utterances (EN/ES) beside the
topics' own examples: asking for a human, greetings, thanks, and clearly off-topic requests.

Asking for a human is a *class learned from examples* (any wording), never a keyword match: the
classifier must tell "I want to talk to a person" from "how do I file a claim?".
"""
HUMAN = "human_request"
GREETING = "greeting"
THANKS = "thanks"
OOS = "oos"

BUILTIN_EXAMPLES: dict[str, list[str]] = {
    HUMAN: [
        "I want to talk to a human", "put me through to a person", "can I speak to a real person please",
        "let me talk to an agent", "I need a human being", "transfer me to a representative",
        "connect me with someone from support", "I don't want a bot, I want a person",
        "is there a real person I can talk to", "get me a human", "I'd like to speak with an operator",
        "stop the bot and get me someone", "can a human help me", "talk to customer service person",
        "I want to speak with someone", "give me a live agent", "pass me to an advisor",
        "can you transfer me to a human agent", "human please", "agent please", "speak to a manager",
        "I want to talk to a supervisor", "are you a robot? I want a person",
        "quiero hablar con un humano", "pasame con una persona", "quiero hablar con una persona real",
        "comunicame con un asesor", "necesito hablar con alguien", "no quiero hablar con un bot",
        "pasame con un operador", "quiero que me atienda una persona", "me podés pasar con alguien",
        "hay alguien real con quien hablar", "transferime con un agente", "quiero un asesor humano",
        "atención humana por favor", "con un humano por favor", "quiero hablar con el supervisor",
        "dejame hablar con alguien de atención al cliente", "necesito que me atienda alguien de verdad",
        "derivame con una persona", "sos un robot? quiero una persona", "operador por favor",
        "me comunican con un representante", "quiero hablar con un encargado",
        "is anyone from your staff available", "can a human agent take over", "I want someone real to answer me",
        "hay alguien disponible para atenderme", "que me atienda alguien de verdad, no un bot",
        "quiero que me conteste una persona de su equipo", "pasame con alguien del equipo",
    ],
    GREETING: [
        "hi", "hello", "hey there", "good morning", "good afternoon", "hello, anyone there?", "hi there",
        "hola", "buenas", "buen día", "buenas tardes", "buenas noches", "hola, ¿hay alguien?", "holaa",
    ],
    THANKS: [
        "thanks", "thank you", "thanks a lot", "great, thank you", "perfect thanks", "ok thanks, bye",
        "that's all, thanks", "gracias", "muchas gracias", "genial, gracias", "perfecto, gracias",
        "listo, gracias", "ok gracias, chau", "mil gracias",
    ],
    OOS: [
        "what's the weather tomorrow", "tell me a joke", "who won the football match yesterday",
        "can you recommend a good restaurant", "what is the capital of France", "book me a flight to Madrid",
        "how do I cook pasta", "what's the meaning of life", "write me a poem", "translate this to French",
        "what time is it in Tokyo", "help me with my math homework", "do you like music",
        "play some music", "set an alarm for 7am", "what's the best smartphone to buy", "how tall is everest",
        "order a pizza for me", "what's your favourite movie", "give me a recipe for cake",
        "¿qué tiempo va a hacer mañana?", "contame un chiste", "¿quién ganó el partido de ayer?",
        "recomendame un restaurante", "¿cuál es la capital de Francia?", "reservame un vuelo a Madrid",
        "¿cómo se cocina la pasta?", "escribime un poema", "traducí esto al inglés", "¿qué hora es en Tokio?",
        "ayudame con la tarea de matemática", "¿te gusta la música?", "poné una alarma a las 7",
        "¿qué celular me conviene comprar?", "pedime una pizza", "¿cuál es tu película favorita?",
        "pasame una receta de torta", "¿cuánto mide el Everest?", "¿quién es el presidente de Brasil?",
        "quiero comprar zapatillas", "necesito un turno con el médico", "¿dónde queda el banco más cercano?",
    ],
}
